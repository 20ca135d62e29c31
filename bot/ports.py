"""Ports: the small Protocols the core talks through. Each has an in-memory fake
in `bot.fakes`, used by the tests and the console demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.config import PersonConfig
from bot.crm import RecordMoveRepository
from bot.messages import Message
from bot.model import (
    CoverageMode,
    RoutingState,
)

# Re-exported: split out to keep modules small; import them from here.
from bot.ports_calendar import CalendarRead as CalendarRead
from bot.ports_calendar import CalendarSource as CalendarSource
from bot.ports_calendar import CalendarSyncRepository as CalendarSyncRepository
from bot.ports_calendar import CalendarSyncState as CalendarSyncState
from bot.ports_calendar import CheckedCalendar as CheckedCalendar
from bot.ports_records import ActivityRepository as ActivityRepository
from bot.ports_records import AppointmentRepository as AppointmentRepository
from bot.ports_records import CoverageRepository as CoverageRepository
from bot.ports_records import LeadPosition as LeadPosition
from bot.ports_records import LeadRepository as LeadRepository
from bot.ports_records import Page as Page
from bot.ports_records import TaskRepository as TaskRepository
from bot.work_items import WorkItems


class Clock(Protocol):
    """Where the current time comes from; always timezone-aware UTC."""

    def now(self) -> datetime:
        """The current instant."""
        ...


# --- chat -------------------------------------------------------------------


@dataclass(frozen=True)
class MessageRef:
    """Where a sent message lives, so it can be edited later."""

    channel: str
    id: str


class ChatPort(Protocol):
    """A chat platform: post to channels, DM people, edit what was posted.

    `key` is the outbox key of the message. A platform stores it with the message
    (Slack: message metadata) so that `find_sent` can tell, after a timeout or a crash
    mid-send, whether the message already arrived: the outbox never sends twice.
    """

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """Post `message` in a channel, tagged with the outbox `key`."""
        ...

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """Send `message` privately to the person with this email, tagged with `key`."""
        ...

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """The message tagged `key` sent since `since` to the channel (or DM to `email`).

        None when it is not there. Raises ChatError when the platform cannot be asked.
        """
        ...

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """Replace the content of an earlier message."""
        ...

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """Share a file (a chart) in a channel."""
        ...


# --- routing ----------------------------------------------------------------


class RoutingChannel(StrEnum):
    """The ways a lead reaches an OSC."""

    LEADS = "leads"
    EMAIL = "email"
    CALLS = "calls"


class RoutingAdapter(Protocol):
    """Switches one routing channel between an OSC and a backup, and back."""

    name: str

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """Where this channel routes the OSC's traffic right now."""
        ...

    def switch(
        self, *, osc: PersonConfig, backup: PersonConfig, mode: CoverageMode
    ) -> RoutingState:
        """Route the OSC's traffic to the backup; idempotent. Returns the state after."""
        ...

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Put routing back to `snapshot`; idempotent. Returns the state after."""
        ...

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only rehearsal: problems a switch would hit (missing access, unknown ids)."""
        ...


class RouteRepository(Protocol):
    """oscbot's own routing table: who receives an OSC's traffic on a channel."""

    def get(self, *, osc_email: str, channel: str) -> str | None:
        """The person routed to, or None when traffic goes to the OSC."""
        ...

    def set(self, *, osc_email: str, channel: str, target: str | None) -> None:
        """Route to `target`; None sends traffic back to the OSC."""
        ...


# --- repositories -----------------------------------------------------------

class SwitchStatus(StrEnum):
    """Journal states of one routing switch."""

    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"
    MANUAL = "manual"
    REVERTING = "reverting"
    REVERTED = "reverted"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class RoutingSwitch:
    """The journal of one channel's switch for one coverage; unique on (coverage, channel)."""

    id: int | None
    coverage_id: int
    channel: str
    adapter: str
    status: SwitchStatus
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    attempts: int
    last_error: str
    updated_at: datetime
    actor: str
    reason: str
    version: int = 0


class RoutingSwitchRepository(Protocol):
    """The routing journal."""

    def get(self, *, coverage_id: int, channel: str) -> RoutingSwitch | None:
        """The switch for this coverage and channel, if any."""
        ...

    def save(self, switch: RoutingSwitch) -> RoutingSwitch:
        """Insert or update by (coverage_id, channel)."""
        ...

    def list(self, *, coverage_id: int) -> list[RoutingSwitch]:
        """Every switch of a coverage."""
        ...


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when, why, with before and after."""

    at: datetime
    actor: str
    action: str
    subject: str
    reason: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditLog(Protocol):
    """Append-only record of every switch and decision."""

    def record(self, entry: AuditEntry) -> None:
        """Append an entry."""
        ...

    def list(self, *, subject: str | None = None) -> list[AuditEntry]:
        """Entries, oldest first, optionally for one subject."""
        ...


class Transactions(Protocol):
    """A unit of work: what the repositories do inside `atomic()` commits together.

    A state change and the messages it causes are stored in one transaction, so a crash
    or a dropped connection never leaves one without the other. Nested calls join the
    outer transaction.
    """

    def atomic(self) -> AbstractContextManager[None]:
        """Run the block as one transaction; an exception rolls all of it back."""
        ...


class JobRuns(Protocol):
    """Claims of scheduled job slots, so each runs once across every replica."""

    def claim(self, *, job: str, slot: int, owner: str, now: datetime) -> bool:
        """True for the one caller that claims this job's slot; False for everyone else."""
        ...

    def finish(self, *, job: str, slot: int, now: datetime, outcome: str) -> None:
        """Record how the claimed run ended."""
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


@dataclass(frozen=True)
class Repositories:
    """Every repository, passed to services as one bundle."""

    coverages: CoverageRepository
    leads: LeadRepository
    activities: ActivityRepository
    tasks: TaskRepository
    appointments: AppointmentRepository
    switches: RoutingSwitchRepository
    audit: AuditLog
    outbox: OutboxRepository
    calendar_sync: CalendarSyncRepository
    routes: RouteRepository
    moves: RecordMoveRepository
    tx: Transactions
    job_runs: JobRuns
    inbound: InboundEvents
    work_items: WorkItems
