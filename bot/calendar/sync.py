"""Calendar watching: read each OSC's calendar and keep coverage in step.

Reads run concurrently (a bounded pool), each isolated: one slow or hostile feed
holds one worker for at most its own time budget and never delays the others,
whose results are applied as they arrive. A calendar that did not change costs
one conditional read: its stored state is not rewritten and its coverages are
not reconciled.

A calendar that fails to load never changes coverage: the last good copy is
kept, the source is marked stale, and the managers hear about it after a few
failures in a row. A read that suddenly loses all (or most) of the calendar's
events is treated the same way, as suspect, until it has held for
`suspect_confirm_after`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bot.calendar.alerts import calendar_stale_alert
from bot.coverage.service import CoverageService
from bot.errors import CalendarError
from bot.ports.calendars import (
    CalendarRead,
    CalendarSource,
    CalendarSyncState,
    CheckedCalendar,
)

LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class SyncReport:
    """What one sync pass did."""

    read: int = 0
    unchanged: int = 0
    failed: int = 0
    changes: int = 0
    suspect: int = 0

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(*(a + b for a, b in zip(dataclasses.astuple(self),
                                                  dataclasses.astuple(other), strict=True)))


def is_suspect(previous: int | None, now: int | None) -> bool:
    """True when a calendar suddenly lost all, or most, of its events."""
    if previous is None or now is None or previous == 0:
        return False
    return now == 0 or (previous >= 4 and now * 2 < previous)


class CalendarSyncService:
    """Turns calendar absences into coverage changes, one OSC at a time."""

    def __init__(self, *, coverage: CoverageService, sources: Mapping[str, CalendarSource],
                 lookahead: timedelta = timedelta(days=60), alert_after: int = 3,
                 concurrency: int = 8, wait_for_read: timedelta = timedelta(seconds=30),
                 suspect_confirm_after: timedelta = timedelta(hours=6)) -> None:
        self.coverage = coverage
        self.sources = dict(sources)
        self.lookahead = lookahead
        self.alert_after = alert_after
        self.concurrency = concurrency
        self.wait_for_read = wait_for_read
        self.suspect_confirm_after = suspect_confirm_after
        self._pool: ThreadPoolExecutor | None = None
        self._reading: set[str] = set()
        self._lock = threading.Lock()

    def sync_all(self) -> SyncReport:
        """Sync every OSC that has a calendar source; reads run concurrently."""
        return self.sync_many(list(self.sources))

    def sync_many(self, osc_emails: Sequence[str]) -> SyncReport:
        """Sync these OSCs' calendars (those without a source are skipped); reads run
        concurrently, and each result is applied on its own: one that fails to apply is
        recorded and skipped, the others go on."""
        now = self.coverage.clock.now()
        wanted = [e for e in dict.fromkeys(osc_emails) if e in self.sources]
        stored = self.coverage.repos.calendar_sync.get_many(wanted)
        states = {email: stored.get(email) or CalendarSyncState(
            osc_email=email, cursor={}, absences=(), last_good_at=None)
            for email in wanted}
        pending: dict[Future[CalendarRead], str] = {}
        total = SyncReport()
        for email, state in states.items():
            with self._lock:
                if email in self._reading:  # last pass's read is still running: skip it
                    total += self._failed(email, state, "still reading from the last pass")
                    continue
                self._reading.add(email)
            future = self._executor().submit(self._read, email, state, now)
            future.add_done_callback(self._done_callback(email))
            pending[future] = email
        try:
            for future in as_completed(pending, timeout=self.wait_for_read.total_seconds()):
                email = pending.pop(future)
                settled = self.coverage.guard.run(
                    "sync_calendars", f"calendar:{email}",
                    partial(self._settle, email, states[email], future, now))
                total += settled if settled is not None else SyncReport(failed=1)
        except FuturesTimeout:
            for email in pending.values():
                total += self._failed(email, states[email], "took longer than "
                                      f"{self.wait_for_read.total_seconds():g} s to read")
        return total

    def sync_one(self, osc_email: str) -> SyncReport:
        """Read one OSC's calendar and apply the differences to their coverages."""
        now = self.coverage.clock.now()
        state = self._state(osc_email)
        try:
            read = self._read(osc_email, state, now)
        except CalendarError as exc:
            return self._failed(osc_email, state, str(exc))
        return self._apply(osc_email, state, read, now)

    def remember(self, osc_email: str, entries: dict[str, str]) -> None:
        """Add entries (e.g. a push channel) to an OSC's calendar cursor."""
        state = self._state(osc_email)
        self.coverage.repos.calendar_sync.save(
            dataclasses.replace(state, cursor={**state.cursor, **entries}))

    def state(self, osc_email: str) -> CalendarSyncState | None:
        """What oscbot remembers of an OSC's calendar (cursor, last good absences), if any."""
        return self.coverage.repos.calendar_sync.get(osc_email)

    def states(self, osc_emails: Sequence[str]) -> dict[str, CalendarSyncState]:
        """The remembered state of these OSCs' calendars, those that have one, in one read."""
        return self.coverage.repos.calendar_sync.get_many(osc_emails)

    def rehearse(self, osc_email: str) -> list[str] | None:
        """Problems reading this OSC's calendar (for the drill), [] when it can be read;
        None when its source cannot rehearse its access."""
        source = self.sources.get(osc_email)
        if not isinstance(source, CheckedCalendar):
            return None
        return source.check(now=self.coverage.clock.now())

    # --- internals -------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                            thread_name_prefix="calendar-read")
        return self._pool

    def _done_callback(self, osc_email: str) -> Callable[[Future[CalendarRead]], None]:
        def done(_: Future[CalendarRead]) -> None:
            with self._lock:
                self._reading.discard(osc_email)
        return done

    def _state(self, osc_email: str) -> CalendarSyncState:
        return self.coverage.repos.calendar_sync.get(osc_email) or CalendarSyncState(
            osc_email=osc_email, cursor={}, absences=(), last_good_at=None)

    def _read(self, osc_email: str, state: CalendarSyncState, now: datetime) -> CalendarRead:
        return self.sources[osc_email].read(start=now - LOOKBACK, end=now + self.lookahead,
                                            cursor=state.cursor)

    def _settle(self, osc_email: str, state: CalendarSyncState, future: Future[CalendarRead],
                now: datetime) -> SyncReport:
        try:
            read = future.result()
        except CalendarError as exc:
            return self._failed(osc_email, state, str(exc))
        except Exception as exc:  # one broken source never stops the others' sync
            return self._failed(osc_email, state, f"{type(exc).__name__}: {exc}")
        return self._apply(osc_email, state, read, now)

    def _failed(self, osc_email: str, state: CalendarSyncState, error: str,
                *, suspect_since: datetime | None = None) -> SyncReport:
        failures = state.consecutive_failures + 1
        self.coverage.repos.calendar_sync.save(dataclasses.replace(
            state, consecutive_failures=failures, last_error=error, stale=True,
            suspect_since=suspect_since or state.suspect_since))
        if failures == self.alert_after:
            self.coverage.notifier.post(
                key=f"calendar-stale:{osc_email}:{state.last_good_at}",
                message=calendar_stale_alert(osc_email=osc_email, failures=failures,
                                             error=error, config=self.coverage.config))
        return SyncReport(failed=1) if suspect_since is None else SyncReport(suspect=1)

    def _apply(self, osc_email: str, state: CalendarSyncState, read: CalendarRead,
               now: datetime) -> SyncReport:
        healthy = (not state.stale and state.consecutive_failures == 0
                   and state.last_good_at is not None)
        if read.unchanged and healthy:
            return SyncReport(read=1, unchanged=1)
        if not read.unchanged and is_suspect(state.event_count, read.event_count):
            since = state.suspect_since or now
            if now - since < self.suspect_confirm_after:
                return self._failed(
                    osc_email, state, suspect_since=since,
                    error=f"the calendar suddenly lost {state.event_count} → "
                          f"{read.event_count} events; keeping the last good copy")
        absences = state.absences if read.unchanged else read.absences
        self.coverage.repos.calendar_sync.save(CalendarSyncState(
            osc_email=osc_email, cursor={**state.cursor, **read.cursor}, absences=absences,
            last_good_at=now, event_count=(read.event_count if read.event_count is not None
                                           else state.event_count)))
        if healthy and absences == state.absences:
            return SyncReport(read=1)
        changes = self.coverage.apply_calendar(osc_email=osc_email, absences=absences)
        return SyncReport(read=1, unchanged=int(read.unchanged), changes=changes)
