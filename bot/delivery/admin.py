"""The outbox as an admin sees it (`oscbot outbox`, metrics): what is queued, sent and
failed, and sending a failed message again."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.errors import InvalidInput, NotFound
from bot.ports.clock import Clock
from bot.ports.delivery import OutboxItem, OutboxRepository, OutboxStatus


class OutboxAdmin:
    """Reads the outbox and retries failed messages."""

    def __init__(self, *, outbox: OutboxRepository, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    def counts(self) -> dict[str, int]:
        """How many messages per status."""
        return self._outbox.counts()

    def recent(self, *, failed_only: bool = False, limit: int = 50) -> list[OutboxItem]:
        """The newest messages (or only the failed ones), newest first."""
        return self._outbox.recent(status=OutboxStatus.FAILED if failed_only else None,
                                   limit=limit)

    def retry(self, key: str) -> OutboxItem:
        """Queue a failed message again with a fresh retry window; refuses anything else."""
        item = self._outbox.get(key)
        if item is None:
            raise NotFound(f"no outbox message with key {key!r}")
        if item.status is not OutboxStatus.FAILED:
            raise InvalidInput(f"{key} is {item.status.value}, not failed; only failed "
                               "messages are retried", field="key")
        return self._outbox.save(dataclasses.replace(
            item, status=OutboxStatus.PENDING, next_attempt_at=None,
            created_at=self._clock.now(), last_error=""))

    def settled(self, *, within: timedelta) -> bool:
        """True when no pending message may go within `within` (the shell waits for the
        messages held back only by pacing before it leaves)."""
        soon = self._clock.now() + within
        return not any(i.next_attempt_at is None or i.next_attempt_at <= soon
                       for i in self._outbox.pending(limit=50))
