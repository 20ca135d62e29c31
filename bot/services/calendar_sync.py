"""Calendar watching: read each OSC's calendar and keep coverage in step.

A calendar that fails to load never changes coverage: the last good copy is
kept, the source is marked stale, and the managers hear about it after a few
failures in a row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.alerts import calendar_stale_alert
from bot.errors import CalendarError
from bot.ports import CalendarSource, CalendarSyncState
from bot.services.coverage import CoverageService

LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class SyncReport:
    """What one sync pass did."""

    read: int = 0
    unchanged: int = 0
    failed: int = 0
    changes: int = 0


class CalendarSyncService:
    """Turns calendar absences into coverage changes, one OSC at a time."""

    def __init__(self, *, coverage: CoverageService, sources: Mapping[str, CalendarSource],
                 lookahead: timedelta = timedelta(days=60), alert_after: int = 3) -> None:
        self.coverage = coverage
        self.sources = dict(sources)
        self.lookahead = lookahead
        self.alert_after = alert_after

    def sync_all(self) -> SyncReport:
        """Sync every OSC that has a calendar source."""
        total = SyncReport()
        for osc_email in self.sources:
            one = self.sync_one(osc_email)
            total = SyncReport(total.read + one.read, total.unchanged + one.unchanged,
                               total.failed + one.failed, total.changes + one.changes)
        return total

    def remember(self, osc_email: str, entries: dict[str, str]) -> None:
        """Add entries (e.g. a push channel) to an OSC's calendar cursor."""
        repos = self.coverage.repos
        state = repos.calendar_sync.get(osc_email) or CalendarSyncState(
            osc_email=osc_email, cursor={}, absences=(), last_good_at=None)
        repos.calendar_sync.save(dataclasses.replace(state, cursor={**state.cursor, **entries}))

    def sync_one(self, osc_email: str) -> SyncReport:
        """Read one OSC's calendar and apply the differences to their coverages."""
        repos = self.coverage.repos
        now = self.coverage.clock.now()
        state = repos.calendar_sync.get(osc_email) or CalendarSyncState(
            osc_email=osc_email, cursor={}, absences=(), last_good_at=None)
        try:
            read = self.sources[osc_email].read(
                start=now - LOOKBACK, end=now + self.lookahead, cursor=state.cursor)
        except CalendarError as exc:
            failures = state.consecutive_failures + 1
            repos.calendar_sync.save(CalendarSyncState(
                osc_email=osc_email, cursor=state.cursor, absences=state.absences,
                last_good_at=state.last_good_at, consecutive_failures=failures,
                last_error=str(exc), stale=True))
            if failures == self.alert_after:
                self.coverage.notifier.post(
                    key=f"calendar-stale:{osc_email}:{state.last_good_at}",
                    message=calendar_stale_alert(osc_email=osc_email, failures=failures,
                                                 error=str(exc), config=self.coverage.config))
            return SyncReport(failed=1)
        absences = state.absences if read.unchanged else read.absences
        repos.calendar_sync.save(CalendarSyncState(
            osc_email=osc_email, cursor={**state.cursor, **read.cursor}, absences=absences,
            last_good_at=now))
        changes = self.coverage.apply_calendar(osc_email=osc_email, absences=absences)
        return SyncReport(read=1, unchanged=int(read.unchanged), changes=changes)
