"""A burst of 200 channel alerts through the SQL outbox and the Teams port, while the fake
Bot Connector throttles (429 + Retry-After) and fails (412/502/504): each arrives exactly
once, in order. Limits are scaled down 20-30 times so the test takes seconds, not minutes."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.messages import Message, Section
from bot.ports.chat import ConversationKind, ConversationRef
from bot.ports.delivery import OutboxStatus
from handlers.cli.app import SystemClock
from handlers.teams.chat import TeamsChat
from storage.conversation_refs import SqlConversationRefs
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.fakes.bot_connector import BOT_ID, TEAM_ID, TENANT, FakeBotConnector, card_text

pytestmark = pytest.mark.slow

SCALED_TEAMS_LIMITS = ((7, 0.05), (60, 1.0))


def test_two_hundred_alerts_arrive_once_in_order_under_throttling(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    upgrade(url)
    engine = engine_from_url(url)
    repos = sql_repositories(engine)
    clock = SystemClock()
    with FakeBotConnector(limits=SCALED_TEAMS_LIMITS) as teams:
        refs = SqlConversationRefs(engine)
        refs.save(ConversationRef(conversation_id=TEAM_ID, service_url=teams.url,
                                  tenant_id=TENANT, kind=ConversationKind.CHANNEL,
                                  team_id=TEAM_ID, updated_at=clock.now()))
        chat = TeamsChat(refs=refs, clock=clock, service_url=teams.url, tenant_id=TENANT,
                         bot_id=BOT_ID, names={}, limits=SCALED_TEAMS_LIMITS, max_sleep=0.2)
        notifier = Notifier(outbox=repos.outbox, clock=clock, channel="#online-sales")
        for n in range(200):
            notifier.post(key=f"alert:{n}", message=Message(
                text=f"alert {n}", blocks=(Section(f"alert {n:03d}"),)))
        delivery = OutboxDelivery(outbox=repos.outbox, chat=chat, clock=clock,
                                  per_channel_interval=timedelta(0))
        # Failures spread over the run, so each one hits a different message.
        plan = {n: 429 for n in range(7, 200, 20)} | {50: 412, 100: 502, 150: 504}
        teams.fail_at(plan)
        deadline = time.monotonic() + 90
        while repos.outbox.pending(limit=1) and time.monotonic() < deadline:
            delivery.deliver_due()
            time.sleep(0.02)

        first = repos.outbox.get("alert:0")
        assert first is not None and first.status is OutboxStatus.SENT, first
        received = [card_text(m) for m in teams.messages(TEAM_ID)]
        assert received == [f"alert {n:03d}" for n in range(200)]
        answered = [status for method, _, status in teams.requests if method == "POST"]
        assert answered.count(429) >= 10
        assert sorted(set(answered)) == [201, 412, 429, 502, 504]
        assert answered.count(201) == 200
        statuses = {repos.outbox.get(f"alert:{n}").status for n in range(200)}  # type: ignore[union-attr]
        assert statuses == {OutboxStatus.SENT}
