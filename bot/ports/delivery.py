"""Delivery ports: the outbox of outgoing messages (and its records: a message with its
delivery state, a claim on a leased conversation), the unit of work that commits a state
change with the messages it causes, and inbound event dedupe.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

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


class Transactions(Protocol):
    """A unit of work: what the repositories do inside `atomic()` commits together.

    A state change and the messages it causes are stored in one transaction, so a crash
    or a dropped connection never leaves one without the other. Nested calls join the
    outer transaction.
    """

    def atomic(self) -> AbstractContextManager[None]:
        """Run the block as one transaction; an exception rolls all of it back."""
        ...


class InboundEvents(Protocol):
    """Inbound events already handled (Slack event ids, interactions, Teams activity ids)."""

    def first_time(self, *, source: str, event_id: str, now: datetime) -> bool:
        """True the first time an event id is seen from a source; False for every retry."""
        ...

    def forget(self, *, source: str, event_id: str) -> None:
        """Forget an id whose handling failed, so the person may send the same again."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Forget ids received before `before` (platforms retry within minutes)."""
        ...


class OutboxRepository(Protocol):
    """Messages waiting to go out, and what was sent.

    Delivery is leased per conversation: a deliverer claims conversations whose oldest
    pending message is due, works them, and releases them; a lease that runs out (a
    crashed replica) is taken over. The lease keeps order and pacing per conversation
    across replicas.
    """

    def enqueue(self, item: OutboxItem) -> tuple[OutboxItem, bool]:
        """Store unless the key exists; returns (stored item, created)."""
        ...

    def claim(self, *, owner: str, now: datetime, lease: timedelta,
              limit: int) -> list[Claim]:
        """Lease up to `limit` conversations whose oldest pending message may go now, in
        one transaction, and record the attempt on that message (in flight, counted).

        Urgent messages first, then the conversation that has been able to send for the
        longest; conversations held by a `pause` are skipped.
        """
        ...

    def release(self, conversation: str, *, owner: str, now: datetime,
                next_send_at: datetime | None, done: Sequence[OutboxItem] = (),
                unsent: Sequence[Claim] = ()) -> None:
        """Give the lease back (if still ours); nothing goes to the conversation before
        `next_send_at`. The delivery state of the messages worked under the lease (`done`)
        is saved in the same transaction, and claims in `unsent` (never tried) are given
        back as they were before the claim, if the lease was still ours."""
        ...

    def keep_or_release(self, conversation: str, *, owner: str, now: datetime,
                        lease: timedelta, next_send_at: datetime,
                        done: Sequence[OutboxItem], limit: int = 1) -> list[Claim]:
        """Save the delivery state of `done` and, if the lease is still ours and the
        conversation's oldest pending messages may go now (due, not paused), keep the
        lease for `lease` more and claim up to `limit` of them in order (stopping at the
        first that may not go), in the same transaction; otherwise give the lease back as
        `release` does and return no claims."""
        ...

    def pause(self, scope: str, *, until: datetime) -> None:
        """Hold every claim of this scope (a platform rate limit shared by all
        conversations, see ChatError.scope) until `until`, in every replica."""
        ...

    def recent(self, *, status: OutboxStatus | None = None,
               limit: int = 100) -> list[OutboxItem]:
        """Items, newest first, optionally of one status."""
        ...

    def counts(self) -> dict[str, int]:
        """How many items per status."""
        ...

    def get(self, key: str) -> OutboxItem | None:
        """The item with this key, if any."""
        ...

    def due(self, *, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """Pending items whose next attempt is due, oldest first."""
        ...

    def pending(self, *, limit: int = 100) -> list[OutboxItem]:
        """Every pending item, due or waiting for a retry, oldest first."""
        ...

    def save(self, item: OutboxItem) -> OutboxItem:
        """Update an item (status, attempts, ref, message)."""
        ...

    def rewrite_unsent(self, key: str, message: Message) -> bool:
        """Replace the message of the item under `key` in one conditional write, only while
        no deliverer has touched it (pending, never attempted, not in flight); False when
        one has, so the caller queues an edit instead of overwriting a send."""
        ...


