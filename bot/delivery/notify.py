"""Queueing messages in the outbox under idempotency keys.

Every outgoing message is stored before it is sent, so a job that runs twice
queues it once, and a brief can be edited in place later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from bot.messages import Message
from bot.ports.clock import Clock
from bot.ports.delivery import OutboxItem, OutboxRepository, OutboxStatus

FAILED_PREFIX = "delivery-failed:"
# Speed to lead: a new lead's DM, its alerts and escalations, and the managers' warning
# that a message could not be delivered go before briefs, digests and reminders.
URGENT_PREFIXES = ("lead-card:", "lead-alert:", "lead-escalation:", FAILED_PREFIX)
URGENT = 10


def priority_of(key: str) -> int:
    """The delivery priority of a message by its key: URGENT for speed-to-lead ones."""
    return URGENT if key.startswith(URGENT_PREFIXES) else 0


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

    def failed_delivery(self, item: OutboxItem, *, managers: Sequence[str]) -> None:
        """Tell the managers, in plain text, that a message could not be delivered.

        Plain text only: whatever broke the original (blocks, a channel) must not break
        the warning. A failed warning does not raise another.
        """
        if item.key.startswith(FAILED_PREFIX):
            return
        where = "a direct message" if item.target_kind == "direct" else (
            "an edit" if item.target_kind == "update" else f"a post in {item.target}")
        text = (f"oscbot could not deliver {where} ({item.key}): {item.last_error}. "
                "It is kept: `oscbot outbox list --failed` shows it and "
                f"`oscbot outbox retry {item.key}` sends it again.")
        for manager in managers:
            self.direct(key=f"{FAILED_PREFIX}{item.key}:{manager}", email=manager,
                        message=Message(text=text))

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
        if (original.status is OutboxStatus.PENDING
                and self._outbox.rewrite_unsent(key, message)):
            return True
        # Sent, or being sent right now: rewriting the row could undo the deliverer's
        # record of the send, so the change goes out as an edit after it.
        digest = hashlib.sha256(
            json.dumps(message.to_dict(), sort_keys=True).encode()
        ).hexdigest()[:16]
        # An edit goes through the edited message's conversation, after it, in order.
        return self._enqueue(f"{key}:rev:{digest}", "update", key, message,
                             channel=original.conversation)

    def _enqueue(self, key: str, kind: str, target: str, message: Message,
                 channel: str = "") -> bool:
        _, created = self._outbox.enqueue(OutboxItem(
            id=None, key=key, target_kind=kind, target=target, message=message,
            status=OutboxStatus.PENDING, created_at=self._clock.now(), channel=channel,
            priority=priority_of(key),
        ))
        return created

