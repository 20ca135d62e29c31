"""A channel post whose answer never came back is looked up in Microsoft Graph (the fake's
channel messages, in Graph's wire format) by the marker in its card, and not sent again;
one that Teams never took is sent once. Counted at the fake Bot Connector."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.fakes.clock import FixedClock
from bot.messages import Message, Section
from bot.ports.chat import ConversationKind, ConversationRef
from bot.ports.delivery import OutboxStatus
from bot.ports.repositories import Repositories
from handlers.teams.chat import TeamsChat
from handlers.teams.history import GraphHistory, marker, sent_by_app
from storage.conversation_refs import SqlConversationRefs
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.fakes.bot_connector import BOT_ID, TEAM_ID, TENANT, FakeBotConnector, card_text
from tests.fakes.teams_graph import TEAM_GROUP_ID


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'unsure.db'}"
    upgrade(url)
    engine = engine_from_url(url)
    repos = sql_repositories(engine)
    clock = FixedClock(datetime.now(UTC))
    with FakeBotConnector() as teams:
        refs = SqlConversationRefs(engine)
        refs.save(ConversationRef(conversation_id=TEAM_ID, service_url=teams.url,
                                  tenant_id=TENANT, kind=ConversationKind.CHANNEL,
                                  team_id=TEAM_ID, updated_at=clock.now()))
        chat = TeamsChat(refs=refs, clock=clock, service_url=teams.url, tenant_id=TENANT,
                         bot_id=BOT_ID, names={}, timeout=0.5)
        chat.history = GraphHistory(base_url=f"{teams.url}/v1.0", app_id=teams.app_id,
                                    token=chat.graph_token)
        delivery = OutboxDelivery(outbox=repos.outbox, chat=chat, clock=clock,
                                  per_channel_interval=timedelta(0))
        yield {"teams": teams, "repos": repos, "clock": clock, "delivery": delivery,
               "chat": chat}


def alert(repos: Repositories, clock: FixedClock, key: str, text: str) -> None:
    Notifier(outbox=repos.outbox, clock=clock, channel="#online-sales").post(
        key=key, message=Message(text=text, blocks=(Section(text),)))


def test_a_post_that_timed_out_after_teams_took_it_is_not_sent_again(
        setup: dict[str, Any]) -> None:
    teams: FakeBotConnector = setup["teams"]
    repos: Repositories = setup["repos"]
    clock: FixedClock = setup["clock"]
    # Other bot posts in the channel, so the lookup has to pick the right one.
    alert(repos, clock, "alert:before", "earlier alert")
    setup["delivery"].deliver_due()
    alert(repos, clock, "alert:1", "Lead #7: no contact")
    teams.stall_next(1.5)

    first = setup["delivery"].deliver_due()
    item = repos.outbox.get("alert:1")
    assert first.retried == 1 and item is not None and item.in_flight
    assert [card_text(m) for m in teams.messages(TEAM_ID)] == [
        "earlier alert", "Lead #7: no contact"]

    # Another replica takes over (nothing in its memory): Graph has the post.
    clock.advance(timedelta(seconds=5))
    old: TeamsChat = setup["chat"]
    chat = TeamsChat(refs=old.refs, clock=clock, service_url=teams.url, tenant_id=TENANT,
                     bot_id=BOT_ID, names={}, timeout=0.5)
    chat.history = GraphHistory(base_url=f"{teams.url}/v1.0", app_id=teams.app_id,
                                token=chat.graph_token)
    takeover = OutboxDelivery(outbox=repos.outbox, chat=chat, clock=clock,
                              per_channel_interval=timedelta(0))
    assert takeover.deliver_due().sent == 1
    item = repos.outbox.get("alert:1")
    assert item is not None and item.status is OutboxStatus.SENT
    [sent] = [m for m in teams.messages(TEAM_ID) if "no contact" in card_text(m)]
    assert item.ref is not None and item.ref.id == sent["id"]
    assert teams.attempts == 2  # the earlier alert and the stalled one: no repeat
    assert any(f"/v1.0/teams/{TEAM_GROUP_ID}/channels/" in r for r in teams.graph_requests)


def test_a_post_that_teams_never_took_is_sent_once_after_the_lookup(
        setup: dict[str, Any]) -> None:
    teams: FakeBotConnector = setup["teams"]
    repos: Repositories = setup["repos"]
    clock: FixedClock = setup["clock"]
    alert(repos, clock, "alert:2", "Lead #8: no contact")
    teams.fail_next(504)
    assert setup["delivery"].deliver_due().retried == 1
    clock.advance(timedelta(seconds=5))
    assert setup["delivery"].deliver_due().sent == 1
    assert [card_text(m) for m in teams.messages(TEAM_ID)] == ["Lead #8: no contact"]
    assert teams.graph_requests, "the unsure send was looked up before sending again"


def test_graph_shows_bot_cards_as_json_strings_and_pages_of_at_most_fifty(
        setup: dict[str, Any]) -> None:
    teams: FakeBotConnector = setup["teams"]
    repos: Repositories = setup["repos"]
    clock: FixedClock = setup["clock"]
    for n in range(3):
        alert(repos, clock, f"alert:g{n}", f"alert {n}")
    setup["delivery"].deliver_due()
    base = f"{teams.url}/v1.0/teams/{TEAM_GROUP_ID}/channels/{TEAM_ID}/messages"
    page = httpx.get(f"{base}?$top=2").json()
    assert [json.loads(m["attachments"][0]["content"])["body"][0]["text"]
            for m in page["value"]] == ["alert 2", "alert 1"]
    message = page["value"][0]
    assert message["from"]["application"]["applicationIdentityType"] == "bot"
    assert message["body"]["content"] == (
        f'<attachment id="{message["attachments"][0]["id"]}"></attachment>')
    assert sent_by_app(message, teams.app_id, marker("alert:g2"))
    assert not sent_by_app(message, teams.app_id, marker("alert:g1"))
    rest = httpx.get(page["@odata.nextLink"]).json()
    assert [m["id"] for m in rest["value"]] == [teams.messages(TEAM_ID)[0]["id"]]
    assert httpx.get(f"{base}?$top=51").status_code == 400
    assert httpx.get(base.replace(TEAM_GROUP_ID, TEAM_ID)).status_code == 404
    assert httpx.get(f"{teams.url}/v1.0/chats/a:chat-1/messages").status_code == 403


def test_without_channel_consent_an_unsure_post_is_sent_again(
        setup: dict[str, Any]) -> None:
    teams: FakeBotConnector = setup["teams"]
    chat: TeamsChat = setup["chat"]
    # Graph answers 403 for a team where the consent was not granted.
    chat.history = GraphHistory(base_url=f"{teams.url}/v1.0/chats/x", app_id=teams.app_id,
                                token=chat.graph_token)
    since = setup["clock"].now() - timedelta(minutes=2)
    assert chat.find_sent(key="alert:9", channel="#online-sales", since=since) is None
