"""Calendar sync: new absences become coverage within one interval; failures change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AppConfig
from bot.fakes import FixedClock, InMemoryCalendar, RecordingChat, in_memory_repositories
from bot.messages import plain
from bot.model import Absence, AbsenceKind, CoverageStatus
from handlers.context import AppContext, build_context
from schedules.jobs import job

MARIA = "maria@rh.example"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
OOO = Absence(datetime(2026, 12, 3, 6, tzinfo=UTC), datetime(2026, 12, 5, 6, tzinfo=UTC),
              AbsenceKind.OUT_OF_OFFICE, True, "Out of office", ("g-ooo-1",))


@pytest.fixture
def calendar() -> InMemoryCalendar:
    return InMemoryCalendar()


@pytest.fixture
def ctx(config: AppConfig, calendar: InMemoryCalendar) -> AppContext:
    return build_context(config=config, repos=in_memory_repositories(), clock=FixedClock(T0),
                         chat=RecordingChat(), sources={MARIA: calendar})


def tick(ctx: AppContext, seconds: float) -> str:
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(seconds=seconds))
    return job("sync_calendars").run(ctx)


def test_new_out_of_office_becomes_planned_coverage_within_one_interval(
        ctx: AppContext, calendar: InMemoryCalendar) -> None:
    interval = job("sync_calendars").every.total_seconds()
    assert tick(ctx, 0).endswith("0 coverage changes")
    calendar.absences.append(OOO)
    tick(ctx, interval)
    [coverage] = ctx.repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.PLANNED
    assert (coverage.start, coverage.end, coverage.backup_email) == (
        OOO.start, OOO.end, "jordan@rh.example")
    assert "1 unchanged" in tick(ctx, interval)
    assert len(ctx.repos.coverages.list(osc_email=MARIA)) == 1


def test_failed_calendar_keeps_the_last_good_copy_and_alerts_after_three(
        ctx: AppContext, calendar: InMemoryCalendar) -> None:
    calendar.absences.append(OOO)
    tick(ctx, 0)
    calendar.failure = "maria.ics: HTTP 503"
    for _ in range(4):
        assert "1 failed" in tick(ctx, 60)
    [coverage] = ctx.repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.PLANNED
    state = ctx.repos.calendar_sync.get(MARIA)
    assert state is not None and state.stale and state.consecutive_failures == 4
    assert state.absences == (OOO,)
    alerts = [i for i in ctx.repos.outbox.pending(limit=100) if i.key.startswith("calendar-")]
    assert len(alerts) == 1
    assert plain(alerts[0].message.text) == "Maria's calendar failed to load 3 times in a row."
    assert "(maria.ics: HTTP 503)" in plain(alerts[0].message.blocks[0].text)  # type: ignore[union-attr]
    calendar.failure = None
    calendar.absences.clear()
    tick(ctx, 60)
    state = ctx.repos.calendar_sync.get(MARIA)
    assert state is not None and not state.stale and state.consecutive_failures == 0
    assert ctx.repos.coverages.list(osc_email=MARIA)[0].status is CoverageStatus.CANCELLED
    assert len([i for i in ctx.repos.outbox.pending(limit=100)
                if i.key.startswith("calendar-")]) == 1


def test_shortened_absence_shrinks_an_active_coverage_and_ends_it(
        ctx: AppContext, calendar: InMemoryCalendar) -> None:
    calendar.absences.append(OOO)
    tick(ctx, 0)
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.set(OOO.start + timedelta(hours=1))
    ctx.coverage.tick()
    calendar.absences[0] = Absence(OOO.start, OOO.start + timedelta(hours=2), OOO.kind, False,
                                   OOO.summary, OOO.uids)
    tick(ctx, 0)
    ctx.clock.advance(timedelta(hours=1))
    ctx.coverage.tick()
    [coverage] = ctx.repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.RETURNED
    assert coverage.end == OOO.start + timedelta(hours=2)
