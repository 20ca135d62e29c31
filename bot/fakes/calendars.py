"""A calendar held in memory (it can be told to fail), and calendar sync state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.errors import CalendarError
from bot.model import (
    Absence,
)
from bot.ports.calendars import CalendarRead, CalendarSyncState


class InMemoryCalendar:
    """A calendar source holding absences in memory; can be told to fail."""

    def __init__(self, absences: Sequence[Absence] = ()) -> None:
        self.absences: list[Absence] = list(absences)
        self.failure: str | None = None
        self.reads = 0

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """The stored absences overlapping the window, or CalendarError when failing."""
        self.reads += 1
        if self.failure is not None:
            raise CalendarError(self.failure)
        version = str(hash(tuple(self.absences)))
        if cursor.get("version") == version:
            return CalendarRead(absences=(), unchanged=True, cursor=cursor)
        return CalendarRead(absences=tuple(a for a in self.absences if a.overlaps(start, end)),
                            cursor={"version": version})


class InMemoryCalendarSync:
    """CalendarSyncRepository in memory."""

    def __init__(self) -> None:
        self._rows: dict[str, CalendarSyncState] = {}

    def get(self, osc_email: str) -> CalendarSyncState | None:
        """State for an OSC."""
        return self._rows.get(osc_email)

    def get_many(self, osc_emails: Sequence[str]) -> dict[str, CalendarSyncState]:
        """States by email, for those that exist."""
        return {e: self._rows[e] for e in osc_emails if e in self._rows}

    def save(self, state: CalendarSyncState) -> None:
        """Insert or replace."""
        self._rows[state.osc_email] = state
