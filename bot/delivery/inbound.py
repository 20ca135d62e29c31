"""Inbound events handled once: a Slack event, a button press or a Teams activity that
the platform delivers again (a retry, a second replica) is recognised and skipped."""

from __future__ import annotations

from datetime import datetime

from bot.ports.clock import Clock
from bot.ports.delivery import InboundEvents


class InboundDedupe:
    """Remembers the ids of inbound events for as long as platforms retry them."""

    def __init__(self, *, events: InboundEvents, clock: Clock) -> None:
        self._events = events
        self._clock = clock

    def first_time(self, *, source: str, event_id: str) -> bool:
        """True the first time an event id arrives from a source; False for every repeat."""
        return self._events.first_time(source=source, event_id=event_id, now=self._clock.now())

    def forget(self, *, source: str, event_id: str) -> None:
        """Forget an event whose handling failed, so the person may send the same again."""
        self._events.forget(source=source, event_id=event_id)

    def prune(self, *, before: datetime) -> int:
        """Forget ids received before `before` (platforms retry within minutes)."""
        return self._events.prune(before=before)
