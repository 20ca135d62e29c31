"""Working hours: reminders, heads-ups, briefs and return lists wait; alerts do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.hours import in_working_hours
from bot.config.model import Policies
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.leads.service import NewLead
from bot.model import AbsenceKind, Task
from handlers.wiring import build_context
from tests.conftest import make_config

MARIA, JORDAN = "maria@rh.example", "jordan@rh.example"
# Tuesday Dec 1 2026, 00:00 in Chicago.
MIDNIGHT = datetime(2026, 12, 1, 6, tzinfo=UTC)


def test_hours_are_the_recipients_own() -> None:
    policies = Policies()
    assert in_working_hours(MIDNIGHT + timedelta(hours=8), "America/Chicago", policies)
    assert not in_working_hours(MIDNIGHT + timedelta(hours=8), "America/Los_Angeles", policies)
    assert not in_working_hours(MIDNIGHT + timedelta(hours=18), "America/Chicago", policies)
    saturday = MIDNIGHT + timedelta(days=4, hours=10)
    assert not in_working_hours(saturday, "America/Chicago", policies)
    assert in_working_hours(saturday, "America/Chicago", Policies(working_days=("sat",)))
    with pytest.raises(ValueError, match="write it like 08:00-18:00"):
        Policies(working_hours="9 to 5")


def test_what_waits_and_what_does_not() -> None:
    config = make_config(policies={})  # the default: 8:00-18:00 on weekdays
    clock = FixedClock(MIDNIGHT - timedelta(days=1, hours=1))  # Sunday 23:00
    repos = in_memory_repositories()
    ctx = build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                        sources={})
    ctx.coverage.declare(osc_email=MARIA, start=MIDNIGHT, end=MIDNIGHT + timedelta(days=1),
                         kind=AbsenceKind.VACATION, actor=MARIA)
    repos.tasks.add(Task(id=None, title="Call the Chens", due_at=clock.now(),
                         owner_email=JORDAN, assignee_email=JORDAN))
    ctx.coverage.tick()
    ctx.leads.remind()
    assert not repos.outbox.get("heads-up:1")  # Sunday night: nobody at work
    assert not [k for k in _keys(repos) if k.startswith("reminder:")]
    clock.set(MIDNIGHT)
    ctx.coverage.tick()
    assert repos.coverages.get(1).status.value == "active"  # routing switched at midnight
    assert repos.outbox.get("brief:1") is None  # its post waits for the working day
    lead, _ = ctx.leads.receive(NewLead("web", "x", "Pat", "p@example.com", None, "Riverside",
                                        "", clock.now()))
    assert repos.outbox.get(f"lead-card:{lead.id}") is not None  # leads never wait
    clock.set(MIDNIGHT + timedelta(minutes=6))
    ctx.leads.sweep()
    assert repos.outbox.get(f"lead-alert:{lead.id}") is not None  # nor speed-to-lead alerts
    clock.set(MIDNIGHT + timedelta(hours=8))
    ctx.coverage.tick()
    ctx.leads.remind()
    assert repos.outbox.get("brief:1") is not None
    assert [k for k in _keys(repos) if k.startswith("reminder:")]
    clock.set(MIDNIGHT + timedelta(days=1))  # back at midnight: the list waits for 8:00
    ctx.coverage.tick()
    assert repos.outbox.get("return-dm:1") is None
    clock.set(MIDNIGHT + timedelta(days=1, hours=8))
    ctx.coverage.tick()
    assert repos.outbox.get("return-dm:1") is not None


def test_an_emergency_brief_goes_out_at_once() -> None:
    clock = FixedClock(MIDNIGHT + timedelta(hours=2))
    repos = in_memory_repositories()
    ctx = build_context(config=make_config(policies={}), repos=repos, clock=clock,
                        chat=RecordingChat(), sources={})
    ctx.coverage.declare(osc_email=MARIA, start=clock.now(), end=clock.now() + timedelta(days=1),
                         kind=AbsenceKind.SICK, actor=MARIA, emergency=True)
    assert repos.outbox.get("brief:1") is not None


def _keys(repos: object) -> list[str]:
    outbox = repos.outbox  # type: ignore[attr-defined]
    return [i.key for i in outbox.pending(limit=500)]
