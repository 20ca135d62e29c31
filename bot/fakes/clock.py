"""A clock that moves only when told to."""

from __future__ import annotations

from datetime import datetime, timedelta


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = now

    def now(self) -> datetime:
        """The clock's current instant."""
        return self._now

    def set(self, now: datetime) -> None:
        """Jump to an instant."""
        self._now = now

    def advance(self, by: timedelta) -> datetime:
        """Move forward and return the new instant."""
        self._now = self._now + by
        return self._now
