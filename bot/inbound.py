"""Inbound dedupe in memory with the whole port: forgetting a failed id and pruning by age.

The insert-first dedupe is the delivery fake's; this adds what the jobs need.
"""

from __future__ import annotations

from datetime import datetime

from bot.fakes_delivery import InMemoryInbound


class InMemoryInboundEvents(InMemoryInbound):
    """InboundEvents in memory."""

    def forget(self, *, source: str, event_id: str) -> None:
        """Drop one id."""
        self.seen.pop((source, event_id), None)

    def prune(self, *, before: datetime) -> int:
        """Drop ids received before `before`."""
        old = [key for key, at in self.seen.items() if at < before]
        for key in old:
            del self.seen[key]
        return len(old)
