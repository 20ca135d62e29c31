"""The outbox's records: an outgoing message with its delivery state, and a claim on
a leased conversation's next message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.messages import Message
from bot.ports.chat import MessageRef


class OutboxStatus(StrEnum):
    """Delivery state of an outgoing message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxItem:
    """One outgoing message; `key` makes enqueueing idempotent.

    `target_kind` is `channel`, `direct` or `update`; for `update`, `target` is
    the key of the item whose sent message is to be edited.
    """

    id: int | None
    key: str
    target_kind: str
    target: str
    message: Message
    status: OutboxStatus
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    ref: MessageRef | None = None
    last_error: str = ""
    sent_at: datetime | None = None
    channel: str = ""
    in_flight: bool = False
    first_tried_at: datetime | None = None
    # Higher goes first among conversations that may send (speed to lead: lead DMs,
    # alerts and escalations before briefs, digests and reminders).
    priority: int = 0

    @property
    def conversation(self) -> str:
        """The conversation it goes to: its own channel, `dm:<email>`, or the target."""
        if self.channel:
            return self.channel
        return f"dm:{self.target}" if self.target_kind == "direct" else self.target


@dataclass(frozen=True)
class Claim:
    """A leased conversation's next message, its attempt already recorded."""

    item: OutboxItem
    # An earlier attempt may have arrived (it was in flight): look before sending again.
    unsure: bool
    lease_until: datetime
