"""Queueing messages in the outbox under idempotency keys.

Every outgoing message is stored before it is sent, so a job that runs twice
queues it once, and a brief can be edited in place later.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from bot.messages import Message
from bot.ports import Clock, OutboxItem, OutboxRepository, OutboxStatus


class Notifier:
    """Writes messages into the outbox; the delivery job sends them."""

    def __init__(self, *, outbox: OutboxRepository, clock: Clock, channel: str) -> None:
        self._outbox = outbox
        self._clock = clock
        self.channel = channel

    def post(self, *, key: str, message: Message, channel: str | None = None) -> bool:
        """Queue a channel post (the team channel unless told); False when already queued."""
        return self._enqueue(key, "channel", channel or self.channel, message)

    def direct(self, *, key: str, email: str, message: Message) -> bool:
        """Queue a DM; False when already queued."""
        return self._enqueue(key, "direct", email, message)

    def exists(self, key: str) -> bool:
        """True when a message with this key was queued."""
        return self._outbox.get(key) is not None

    def revise(self, *, key: str, message: Message) -> bool:
        """Edit the message queued under `key` in place; identical content is not re-sent.

        A message not yet sent is rewritten before it goes out; a sent one gets an
        `update` item keyed by the content, so repeating a revision does nothing.
        """
        original = self._outbox.get(key)
        if original is None:
            return False
        if original.status is OutboxStatus.PENDING:
            self._outbox.save(dataclasses.replace(original, message=message))
            return True
        digest = hashlib.sha256(
            json.dumps(message.to_dict(), sort_keys=True).encode()
        ).hexdigest()[:16]
        return self._enqueue(f"{key}:rev:{digest}", "update", key, message)

    def _enqueue(self, key: str, kind: str, target: str, message: Message) -> bool:
        _, created = self._outbox.enqueue(OutboxItem(
            id=None, key=key, target_kind=kind, target=target, message=message,
            status=OutboxStatus.PENDING, created_at=self._clock.now(),
        ))
        return created

