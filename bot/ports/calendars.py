"""Calendar ports: reading one person's calendar, and the sync state kept per OSC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.model import (
    Absence,
    SkippedEvent,
)


@dataclass(frozen=True)
class CalendarRead:
    """What one read of a calendar found."""

    absences: tuple[Absence, ...]
    skipped: tuple[SkippedEvent, ...] = ()
    unchanged: bool = False
    cursor: dict[str, str] = field(default_factory=dict)
    # Read, but with a guess the admin should fix (an unknown TZID, a broken RRULE).
    warnings: tuple[SkippedEvent, ...] = ()
    # Events the calendar held (absences or not); None when the source cannot say.
    event_count: int | None = None


class CalendarSource(Protocol):
    """One person's calendar. Raises CalendarError when it cannot be read."""

    def read(
        self, *, start: datetime, end: datetime, cursor: dict[str, str]
    ) -> CalendarRead:
        """Absences overlapping `[start, end)`; `cursor` carries ETag/sync tokens between reads.

        When nothing changed since `cursor`, returns `unchanged=True` and no absences.
        """
        ...


@runtime_checkable
class CheckedCalendar(Protocol):
    """A calendar source that can rehearse its access (for the drill) without changing it."""

    def check(self, *, now: datetime) -> list[str]:
        """Problems reading this calendar (missing permissions, unknown mailbox); [] if none."""
        ...


@dataclass(frozen=True)
class CalendarSyncState:
    """Per-OSC memory of calendar reads: cursor, last good absences, failures."""

    osc_email: str
    cursor: dict[str, str]
    absences: tuple[Absence, ...]
    last_good_at: datetime | None
    consecutive_failures: int = 0
    last_error: str = ""
    stale: bool = False
    # Events in the last good read (None when the source cannot say).
    event_count: int | None = None
    # Since when reads look suspect (a calendar suddenly empty); None when they do not.
    suspect_since: datetime | None = None


class CalendarSyncRepository(Protocol):
    """Calendar sync state per OSC."""

    def get(self, osc_email: str) -> CalendarSyncState | None:
        """The state for this OSC, if any."""
        ...

    def get_many(self, osc_emails: Sequence[str]) -> dict[str, CalendarSyncState]:
        """The states of these OSCs that exist, by email, in one read."""
        ...

    def save(self, state: CalendarSyncState) -> None:
        """Insert or replace the state for its OSC."""
        ...


class CalendarPush(Protocol):
    """Push notifications of calendar changes (Google watch channels, Graph subscriptions),
    kept open for every calendar of one kind so changes arrive within seconds."""

    def calendars(self) -> list[str]:
        """The OSCs whose calendars this keeps push open for, in a stable order."""
        ...

    def ensure(self, osc_email: str) -> tuple[int, list[str]]:
        """Open that calendar's push, or renew it when it is due: (how many were opened or
        renewed, problems to report). Raises on anything else."""
        ...
