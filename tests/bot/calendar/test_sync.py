"""Calendar sync: new absences become coverage within one interval; failures change nothing."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.calendar.sync import SyncReport, is_suspect
from bot.config.model import AppConfig
from bot.context import AppContext
from bot.fakes.calendars import InMemoryCalendar, InMemoryCalendarSync
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.messages import plain
from bot.model import Absence, AbsenceKind, CoverageStatus
from bot.ports.calendars import CalendarRead, CalendarSyncState
from bot.ports.repositories import Repositories
from handlers.wiring import build_context
from schedules.jobs import job

MARIA, ALEX = "maria@rh.example", "alex@rh.example"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
OOO = Absence(datetime(2026, 12, 3, 6, tzinfo=UTC), datetime(2026, 12, 5, 6, tzinfo=UTC),
              AbsenceKind.OUT_OF_OFFICE, True, "Out of office", ("g-ooo-1",))


@pytest.fixture
def calendar() -> InMemoryCalendar:
    return InMemoryCalendar()


@pytest.fixture
def ctx(config: AppConfig, calendar: InMemoryCalendar, repos: Repositories) -> AppContext:
    return build_context(config=config, repos=repos, clock=FixedClock(T0),
                         chat=RecordingChat(), sources={MARIA: calendar})


def tick(ctx: AppContext, seconds: float) -> str:
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(seconds=seconds))
    return job("sync_calendars").run(ctx)


def test_new_out_of_office_becomes_planned_coverage_within_one_interval(
        ctx: AppContext, calendar: InMemoryCalendar, repos: Repositories) -> None:
    interval = job("sync_calendars").every.total_seconds()
    assert tick(ctx, 0).endswith("0 coverage changes")
    calendar.absences.append(OOO)
    tick(ctx, interval)
    [coverage] = repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.PLANNED
    assert (coverage.start, coverage.end, coverage.backup_email) == (
        OOO.start, OOO.end, "jordan@rh.example")
    assert "1 unchanged" in tick(ctx, interval)
    assert len(repos.coverages.list(osc_email=MARIA)) == 1


def test_failed_calendar_keeps_the_last_good_copy_and_alerts_after_three(
        ctx: AppContext, calendar: InMemoryCalendar, repos: Repositories) -> None:
    calendar.absences.append(OOO)
    tick(ctx, 0)
    calendar.failure = "maria.ics: HTTP 503"
    for _ in range(4):
        assert "1 failed" in tick(ctx, 60)
    [coverage] = repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.PLANNED
    state = repos.calendar_sync.get(MARIA)
    assert state is not None and state.stale and state.consecutive_failures == 4
    assert state.absences == (OOO,)
    alerts = [i for i in repos.outbox.pending(limit=100) if i.key.startswith("calendar-")]
    assert len(alerts) == 1
    assert plain(alerts[0].message.text) == "Maria's calendar failed to load 3 times in a row."
    assert "(maria.ics: HTTP 503)" in plain(alerts[0].message.blocks[0].text)  # type: ignore[union-attr]
    calendar.failure = None
    calendar.absences.clear()
    tick(ctx, 60)
    state = repos.calendar_sync.get(MARIA)
    assert state is not None and not state.stale and state.consecutive_failures == 0
    assert repos.coverages.list(osc_email=MARIA)[0].status is CoverageStatus.CANCELLED
    assert len([i for i in repos.outbox.pending(limit=100)
                if i.key.startswith("calendar-")]) == 1


def test_shortened_absence_never_cuts_an_active_coverage_but_asks(
        ctx: AppContext, calendar: InMemoryCalendar, repos: Repositories) -> None:
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
    [coverage] = repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.ACTIVE and coverage.end == OOO.end
    [question] = [i for i in repos.outbox.pending(limit=100)
                  if i.key == f"return-check:{coverage.id}:{MARIA}"]
    assert question.message.text.startswith("Your calendar now shows your leave ending")
    ctx.clock.set(OOO.end)
    ctx.coverage.tick()
    assert repos.coverages.list(osc_email=MARIA)[0].status is CoverageStatus.RETURNED


class GatedCalendar:
    """A calendar whose read waits until the test opens the gate: a feed that hangs."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.finished = threading.Event()

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        self.gate.wait(10)
        self.finished.set()
        return CalendarRead(absences=(), cursor={"read": "yes"})


class CountingSync(InMemoryCalendarSync):
    """The in-memory sync state, counting writes."""

    saves = 0

    def save(self, state: CalendarSyncState) -> None:
        self.saves += 1
        super().save(state)


def test_a_hanging_calendar_never_holds_back_the_others(config: AppConfig) -> None:
    hanging, quick = GatedCalendar(), InMemoryCalendar([OOO])
    repos = in_memory_repositories()
    ctx = build_context(config=config, repos=repos, clock=FixedClock(T0),
                        chat=RecordingChat(), sources={ALEX: hanging, MARIA: quick})
    ctx.calendars.wait_for_read = timedelta(seconds=0.3)
    try:
        assert ctx.calendars.sync_all() == SyncReport(read=1, failed=1, changes=1)
        [coverage] = repos.coverages.list(osc_email=MARIA)
        assert coverage.status is CoverageStatus.PLANNED
        assert ctx.calendars.sync_all() == SyncReport(read=1, unchanged=1, failed=1)
        state = repos.calendar_sync.get(ALEX)
        assert state is not None and state.last_error == "still reading from the last pass"
    finally:
        hanging.gate.set()
    assert hanging.finished.wait(5)
    # The worker marks the read done just after returning it: a pass soon reads it again.
    for _ in range(100):
        if ctx.calendars.sync_all().failed == 0:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the calendar was never read again after its feed recovered")


def test_an_unchanged_calendar_is_neither_rewritten_nor_reconciled(
        config: AppConfig, calendar: InMemoryCalendar) -> None:
    sync = CountingSync()
    repos = dataclasses.replace(in_memory_repositories(), calendar_sync=sync)
    ctx = build_context(config=config, repos=repos, clock=FixedClock(T0),
                        chat=RecordingChat(), sources={MARIA: calendar})
    calendar.absences.append(OOO)
    ctx.calendars.sync_all()
    [coverage] = repos.coverages.list(osc_email=MARIA)
    repos.coverages.save(dataclasses.replace(coverage, status=CoverageStatus.CANCELLED))
    writes = sync.saves
    assert ctx.calendars.sync_all() == SyncReport(read=1, unchanged=1)
    assert sync.saves == writes
    assert [c.status for c in repos.coverages.list(osc_email=MARIA)] == [
        CoverageStatus.CANCELLED]


@pytest.mark.parametrize(("previous", "now", "suspect"), [
    (10, 0, True), (1, 0, True),                  # lost everything
    (10, 3, True), (10, 4, True), (4, 1, True),   # lost more than half
    (10, 5, False), (10, 6, False), (4, 2, False),  # lost half or less
    (3, 1, False), (2, 1, False),                 # too few events to tell
    (0, 0, False), (10, 12, False), (None, 0, False), (10, None, False)])
def test_a_read_is_suspect_when_it_lost_all_or_most_of_its_events(
        previous: int | None, now: int | None, suspect: bool) -> None:
    assert is_suspect(previous, now) is suspect
