"""A leave started on two replicas at the same instant, on one PostgreSQL database:
one coverage, one brief, one backup DM and one routing switch per channel; and two
overlapping leaves filed at once through Slack on two replicas."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import text

from bot.context import AppContext
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.model import AbsenceKind, CoverageStatus
from handlers.http.app import create_app
from handlers.slack.app import build_slack_app
from handlers.slack.chat import SlackChat
from handlers.wiring import build_context
from storage.engine import engine_from_url
from storage.repositories import sql_repositories
from tests.conftest import make_config
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.handlers.slack.test_app import Server
from tests.storage.conftest import _truncate, migrated_postgres, postgres_url

pytestmark = pytest.mark.slow

__all__ = ["migrated_postgres", "postgres_url"]

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def replica(url: str, clock: FixedClock) -> AppContext:
    """A context of its own (engine, pool, services), as a separate replica has."""
    return build_context(config=make_config(), repos=sql_repositories(engine_from_url(url)),
                         clock=clock, chat=RecordingChat(clock), sources={},
                         sleep=lambda _: None)


def test_two_replicas_starting_the_same_leave_start_it_once(migrated_postgres: str) -> None:
    _truncate(engine_from_url(migrated_postgres))
    clock = FixedClock(NOW)
    first, second = replica(migrated_postgres, clock), replica(migrated_postgres, clock)
    planned = first.coverage.declare(
        osc_email="maria@rh.example", start=NOW + timedelta(hours=1),
        end=NOW + timedelta(days=3), kind=AbsenceKind.VACATION, actor="maria@rh.example")
    assert planned.status is CoverageStatus.PLANNED
    clock.advance(timedelta(hours=2))
    gate = threading.Barrier(2)
    reports: list[object] = []

    def tick(ctx: AppContext) -> None:
        gate.wait()
        reports.append(ctx.coverage.tick())

    threads = [threading.Thread(target=tick, args=(ctx,)) for ctx in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(reports) == 2
    assert sum(r.started for r in reports) == 1  # type: ignore[attr-defined]
    for ctx in (first, second):
        ctx.delivery.deliver_due()
    transcript = [m for ctx in (first, second)
                  for m in ctx.chat.transcript]  # type: ignore[attr-defined]
    briefs = [m for m in transcript if m.key == f"brief:{planned.id}"]
    backup_dms = [m for m in transcript if m.key == f"brief-dm:{planned.id}"]
    assert len(briefs) == 1 and len(backup_dms) == 1
    engine = engine_from_url(migrated_postgres)
    with engine.connect() as db:
        coverages = db.execute(text("SELECT status, count(*) FROM coverages "
                                    "GROUP BY status")).fetchall()
        applied = db.execute(text(
            "SELECT subject, count(*) FROM audit_log WHERE action = 'coverage.active' "
            "GROUP BY subject")).fetchall()
        switches = db.execute(text(
            "SELECT channel, count(*) FROM routing_switches GROUP BY channel")).fetchall()
        routed = db.execute(text("SELECT count(*) FROM routes")).scalar()
    engine.dispose()
    assert coverages == [("active", 1)]
    assert [n for _, n in applied] == [1]
    assert switches and all(n == 1 for _, n in switches)
    assert routed == 1


USERS = {"UMARIA": "maria@rh.example", "UJORDAN": "jordan@rh.example",
         "USAM": "sam@rh.example", "UDANA": "dana@rh.example"}
SIGNING = "cluster-signing-secret"


def slack_replica(url: str, clock: FixedClock, slack: FakeSlack) -> tuple[AppContext, Any]:
    """A replica as `oscbot run` builds it for Slack: its own engine, the Slack chat port
    against the fake Web API, and the Bolt app behind the HTTP app."""
    config = make_config()
    chat = SlackChat(token=TOKEN, api_url=slack.url,
                     names={p.email: p.name for p in config.people})
    ctx = build_context(config=config, repos=sql_repositories(engine_from_url(url)),
                        clock=clock, chat=chat, sources={}, sleep=lambda _: None)
    bolt = build_slack_app(ctx, token=TOKEN, signing_secret=SIGNING, api_url=slack.url)
    return ctx, create_app(ctx, lead_secret=None, slack=bolt)


def leave_submission(base: str, *, last_day: str) -> httpx.Response:
    """Maria files an emergency leave (starting now) through the Slack modal."""
    state = {"start": {"value": {"type": "datepicker", "selected_date": "2026-11-30"}},
             "end": {"value": {"type": "datepicker", "selected_date": last_day}},
             "kind": {"value": {"type": "static_select",
                                "selected_option": {"value": "sick"}}},
             "backup": {"value": {"type": "static_select", "selected_option": None}},
             "notes": {"value": {"type": "plain_text_input", "value": ""}},
             "emergency": {"value": {"type": "checkboxes",
                                     "selected_options": [{"value": "now"}]}}}
    payload = {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "UMARIA"},
               "api_app_id": "A1",
               "view": {"id": "V1", "type": "modal", "team_id": "T1",
                        "callback_id": "going_on_leave", "private_metadata": "maria@rh.example",
                        "state": {"values": state}}}
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return httpx.post(f"{base}/slack/events", content=body, timeout=30, headers={
        "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded"})


def test_two_overlapping_leaves_filed_at_once_on_two_replicas_make_one_coverage(
        migrated_postgres: str) -> None:
    """Maria files two overlapping emergency leaves (to Wednesday and to Friday) at the
    same instant, one through each replica. oscbot refuses an overlapping leave ("already
    has coverage"), so one is taken and the other refused in the form: one coverage, one
    brief, one backup DM, one switch per channel."""
    _truncate(engine_from_url(migrated_postgres))
    clock = FixedClock(NOW)
    with FakeSlack() as slack:
        for user_id, email in USERS.items():
            slack.add_user(email, user_id)
        replicas = [slack_replica(migrated_postgres, clock, slack) for _ in range(2)]
        with Server(replicas[0][1]) as first, Server(replicas[1][1]) as second:
            gate = threading.Barrier(2)
            answers: dict[str, httpx.Response] = {}

            def submit(base: str, last_day: str) -> None:
                gate.wait()
                answers[last_day] = leave_submission(base, last_day=last_day)

            threads = [threading.Thread(target=submit, args=args)
                       for args in ((first, "2026-12-02"), (second, "2026-12-04"))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            for ctx, _ in replicas:
                ctx.delivery.deliver_due()
        posted = [(m["metadata"]["event_payload"]["key"], channel)
                  for channel in list(slack.history) for m in slack.history_of(channel)
                  if m.get("metadata")]
    engine = engine_from_url(migrated_postgres)
    with engine.connect() as db:
        coverages = db.execute(text("SELECT id, status FROM coverages")).fetchall()
        switches = db.execute(text(
            "SELECT channel, count(*) FROM routing_switches GROUP BY channel")).fetchall()
    engine.dispose()
    assert sorted(a.status_code for a in answers.values()) == [200, 200]
    refusals = [a.json()["errors"]["start"] for a in answers.values() if a.content]
    assert [status for _, status in coverages] == ["active"]
    assert len(refusals) == 1 and "Maria already has coverage" in refusals[0]
    [(coverage_id, _)] = coverages
    assert [k for k, _ in posted if k.startswith("brief:")] == [f"brief:{coverage_id}"]
    assert [k for k, _ in posted if k.startswith("brief-dm:")] == [f"brief-dm:{coverage_id}"]
    assert switches and all(n == 1 for _, n in switches)
