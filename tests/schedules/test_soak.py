"""Soak: one poison lead among 1,000 over real HTTP and a real SQLite file; every other
lead still gets its DM and, when nobody contacts it, its channel alert."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.context import AppContext
from bot.fakes.clock import FixedClock
from bot.model import Lead
from bot.ports.delivery import OutboxStatus
from bot.ports.repositories import Repositories
from handlers.http.app import create_app
from handlers.http.signing import signed_headers
from handlers.slack.chat import SlackChat
from handlers.wiring import build_context
from schedules.jobs import deliver_outbox, sweep_leads
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.conftest import TEAM, make_config
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.handlers.slack.test_app import Server

pytestmark = pytest.mark.slow

SECRET = "soak-secret"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
LEADS = 1_000
CHANNEL = "C0SALES01"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for n, person in enumerate(TEAM["people"]):  # type: ignore[arg-type]
            fake.add_user(person["email"], f"U{n:04d}")
        yield fake


@pytest.fixture
def repos(tmp_path: Path) -> Repositories:
    """The repositories on a SQLite file (this module's, in place of the in-memory ones)."""
    url = f"sqlite:///{tmp_path / 'soak.db'}"
    upgrade(url)
    return sql_repositories(engine_from_url(url))


@pytest.fixture
def ctx(repos: Repositories, slack: FakeSlack) -> AppContext:
    clock = FixedClock(T0)
    # Slack and oscbot share one clock, so a message whose send timed out under load is
    # found in the channel's history instead of being sent again.
    slack.clock = lambda: clock.now().timestamp()
    config = make_config(team={**TEAM["team"], "channel": CHANNEL})  # type: ignore[dict-item]
    chat = SlackChat(token=TOKEN, api_url=slack.url, names={p.email: p.name
                                                           for p in config.people})
    return build_context(config=config, repos=repos, clock=clock, chat=chat, sources={},
                         sleep=lambda _: None)


def drain(ctx: AppContext) -> None:
    """Deliver until nothing is pending: a call the busy fake dropped is retried after
    its backoff, so the clock moves on past it (the sweep does not run again)."""
    for _ in range(20):
        if not ctx.outbox.counts().get(OutboxStatus.PENDING, 0):
            return
        ctx.clock.set(ctx.clock.now() + timedelta(minutes=5))  # type: ignore[attr-defined]
        deliver_outbox(ctx)
    raise AssertionError(f"outbox still not drained: {ctx.outbox.counts()}")


def poison(repos: Repositories) -> int:
    """A lead stored before timestamps were checked at the door: year 1 cannot be shown
    in any time zone west of UTC, so every alert about it fails."""
    lead, _ = repos.leads.add(Lead(
        id=None, source="website", external_id="poison", name="Zero Date",
        email="zero@example.com", phone=None, community="Riverside", message="",
        received_at=datetime(1, 1, 1, tzinfo=UTC), owner_email="maria@rh.example",
        assigned_to="maria@rh.example", assignment_reason="imported"))
    assert lead.id is not None
    return lead.id


def post(http: httpx.Client, path: str, body: dict[str, object]) -> httpx.Response:
    data = json.dumps(body).encode()
    return http.post(path, content=data, headers=signed_headers(
        SECRET, path=path, body=data, t=int(T0.timestamp())))


def texts(slack: FakeSlack, channel_prefix: str, starts: str) -> list[str]:
    return [c["text"] for c in slack.calls("chat.postMessage")
            if str(c["channel"]).startswith(channel_prefix) and c["text"].startswith(starts)]


def test_one_poison_lead_among_a_thousand_stops_nobody_elses_dm_or_alert(
        ctx: AppContext, slack: FakeSlack, repos: Repositories) -> None:
    began = time.monotonic()
    bad = poison(repos)
    communities = ["Riverside", "Oak Hill", "Lakeview"]
    with Server(create_app(ctx, lead_secret=SECRET)) as base, \
            httpx.Client(base_url=base, timeout=30) as http:
        def one(n: int) -> int:
            answer = post(http, "/leads", {
                "source": "website", "external_id": f"soak-{n}", "name": f"Lead {n}",
                "phone": f"+1512555{n:04d}", "community": communities[n % 3]})
            assert answer.status_code == 202, answer.text
            lead_id: int = answer.json()["id"]
            if n % 3 == 0:  # a third are called back in time
                assert post(http, f"/leads/{lead_id}/activities", {
                    "kind": "call", "direction": "outbound",
                    "by": answer.json()["assigned_to"]}).status_code == 202
            return lead_id

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(one, range(LEADS - 1)))
    contacted = {ids[n] for n in range(0, LEADS - 1, 3)}

    deliver_outbox(ctx)
    ctx.clock.set(T0 + timedelta(minutes=6))  # type: ignore[attr-defined]
    for _ in range(2):  # the second run must neither repeat alerts nor the poison notice
        sweep_leads(ctx)
        deliver_outbox(ctx)
    drain(ctx)

    dms = texts(slack, "D", "New lead:")
    alerts = texts(slack, CHANNEL, "Lead waiting")
    skipped = texts(slack, CHANNEL, "sweep_leads skipped")
    elapsed = time.monotonic() - began
    print(f"\nsoak: {len(dms)} DMs, {len(alerts)} alerts, {len(skipped)} skip notices "
          f"for {LEADS} leads (1 poison) in {elapsed:.1f} s")
    assert len(dms) == LEADS - 1 == len(set(dms))
    assert len(alerts) == LEADS - 1 - len(contacted)
    assert skipped == [f"sweep_leads skipped lead:{bad}: OverflowError."]
    assert [e.reason for e in repos.audit.list(subject=f"lead:{bad}")] == [
        "sweep_leads: OverflowError: date value out of range"]
    assert elapsed < 300  # a bound on the soak, not a speed target
