"""Two oscbot replicas sharing one database behind Teams: an activity Teams delivers again
(to the other replica) does nothing twice, and a double click on a card button whose two
presses land on different replicas logs the contact once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.context import AppContext
from bot.fakes.clock import FixedClock
from bot.leads.service import NewLead
from bot.model import Lead
from bot.ports.repositories import Repositories
from handlers.http.app import create_app
from handlers.teams.chat import TeamsChat
from handlers.teams.platform import mount_teams
from handlers.wiring import build_context
from storage.conversation_refs import SqlConversationRefs
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.fakes.bot_connector import (
    BOT_ID,
    TEAM_ID,
    TENANT,
    FakeBotConnector,
    card_text,
    post_activity,
)
from tests.processes import ServedApp


def replica(config: AppConfig, clock: FixedClock, database: str,
            teams: FakeBotConnector) -> tuple[str, AppContext, uvicorn.Server]:
    """One replica: its own context, chat port and server, on the shared database."""
    engine = engine_from_url(database)
    chat = TeamsChat(refs=SqlConversationRefs(engine), clock=clock, service_url=teams.url,
                     tenant_id=TENANT, bot_id=BOT_ID, names={p.email: p.name
                                                             for p in config.people})
    ctx = build_context(config=config, repos=sql_repositories(engine), clock=clock, chat=chat,
                        sources={})
    settings = Settings(teams_tenant_id=TENANT, teams_service_url=teams.url,
                        teams_dangerously_allow_unauthenticated=True)
    api: FastAPI = create_app(ctx, lead_secret=None)
    bot = mount_teams(ctx, api, settings)
    asyncio.run(bot.start())
    served = ServedApp(api, name="replica")
    return f"{served.start()}/api/messages", ctx, served.server


@pytest.fixture
def two(config: AppConfig, tmp_path: Path) -> Iterator[dict[str, Any]]:
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade(database)
    clock = FixedClock(datetime.now(UTC))
    with FakeBotConnector() as teams:
        people = {p.email.split("@")[0]: teams.add_member(p.email, p.name)
                  for p in config.people}
        a = replica(config, clock, database, teams)
        b = replica(config, clock, database, teams)
        try:
            yield {"teams": teams, "people": people, "a": a, "b": b, "clock": clock,
                   "repos": sql_repositories(engine_from_url(database))}
        finally:
            a[2].should_exit = b[2].should_exit = True


def test_an_activity_delivered_to_both_replicas_is_handled_once(
        two: dict[str, Any]) -> None:
    teams: FakeBotConnector = two["teams"]
    (a, _, _), (b, _, _) = two["a"], two["b"]
    assert post_activity(a, teams.install()).status_code == 200
    # A leave that is still ahead whatever day the test runs: "Coverage planned".
    start = (two["clock"].now() + timedelta(days=10)).date()
    command = teams.message(f"going on leave {start} {start + timedelta(days=2)} sick for "
                            "maria@rh.example", user=two["people"]["dana"])
    assert post_activity(a, command).status_code == 200
    assert post_activity(b, command).status_code == 200
    repos: Repositories = two["repos"]
    assert len(repos.coverages.list(osc_email="maria@rh.example")) == 1
    texts = [card_text(m) for m in teams.messages(TEAM_ID)]
    assert len([t for t in texts if "Coverage planned" in t]) == 1
    # The second delivery was not answered at all (no "overlaps" refusal, no second reply).
    assert not [t for t in texts if t.startswith(("Sorry", "That did not work"))], texts


def installed_with_a_lead(two: dict[str, Any], external_id: str, name: str,
                          phone: str) -> tuple[FakeBotConnector, str, str, AppContext, Lead]:
    """The app installed in the team, and a lead received a minute ago: (fake connector,
    replica A's endpoint, replica B's endpoint, the shared context, the lead)."""
    teams: FakeBotConnector = two["teams"]
    (a, ctx, _), (b, _, _) = two["a"], two["b"]
    assert post_activity(a, teams.install()).status_code == 200
    lead, _ = ctx.leads.receive(NewLead(
        source="website", external_id=external_id, name=name, email=None,
        phone=phone, community="Riverside", message="",
        received_at=two["clock"].now() - timedelta(minutes=1)))
    return teams, a, b, ctx, lead


def test_a_double_click_across_replicas_logs_the_contact_once(two: dict[str, Any]) -> None:
    teams, a, b, _, lead = installed_with_a_lead(two, "r-1", "Pat Doe", "+15125550100")
    responsible = lead.assigned_to.split("@")[0]
    value = {"action": {"type": "Action.Execute", "verb": "lead_called",
                        "data": {"value": str(lead.id)}}}
    first = teams.invoke("adaptiveCard/action", value, user=two["people"][responsible],
                         reply_to="1:card")
    second = teams.invoke("adaptiveCard/action", value, user=two["people"][responsible],
                          reply_to="1:card")
    answers = [post_activity(a, first).json(), post_activity(b, second).json()]
    assert answers[0]["type"] == "application/vnd.microsoft.card.adaptive"
    assert answers[1]["value"].startswith("Already received")
    repos: Repositories = two["repos"]
    calls = [x for x in repos.activities.for_lead(lead.id) if x.kind.value == "call"]
    assert len(calls) == 1


def test_a_refused_press_can_be_tried_again_a_minute_later(two: dict[str, Any]) -> None:
    teams, a, b, _, lead = installed_with_a_lead(two, "r-2", "Lee Park", "+15125550101")
    outsider = next(k for k in ("sam", "priya", "jordan")
                    if not lead.assigned_to.startswith(k))
    value = {"action": {"type": "Action.Execute", "verb": "lead_called",
                        "data": {"value": str(lead.id)}}}

    def press() -> dict[str, Any]:
        return teams.invoke("adaptiveCard/action", value, user=two["people"][outsider],
                            reply_to="1:card")

    assert post_activity(a, press()).json()["value"].startswith("Sorry")
    assert post_activity(b, press()).json()["value"].startswith("Already received")
    two["clock"].advance(timedelta(seconds=61))
    assert post_activity(b, press()).json()["value"].startswith("Sorry")
