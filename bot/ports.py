"""Ports: the small Protocols the core talks through. Each has an in-memory fake
in `bot.fakes`, used by the tests and the console demo.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from bot.config import PersonConfig
from bot.crm import RecordMoveRepository
from bot.messages import Message
from bot.model import (
    Absence,
    Activity,
    Appointment,
    Coverage,
    CoverageMode,
    CoverageStatus,
    Lead,
    LeadStatus,
    RoutingState,
    SkippedEvent,
    Task,
    TaskStatus,
)


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


# --- calendars --------------------------------------------------------------


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

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Page(Generic[_Item]):
    """The rows a screen shows, with how many matched in all (for an "and N more" line)."""

    items: tuple[_Item, ...]
    total: int

    @property
    def more(self) -> int:
        """How many matching rows are not in `items`."""
        return self.total - len(self.items)



class CoverageRepository(Protocol):
    """Stored coverages."""

    def add(self, coverage: Coverage) -> Coverage:
        """Store a new coverage; returns it with its id."""
        ...

    def save(self, coverage: Coverage) -> Coverage:
        """Update a stored coverage."""
        ...

    def get(self, coverage_id: int) -> Coverage:
        """One coverage; NotFound when missing."""
        ...

    def list(
        self,
        *,
        osc_email: str | None = None,
        backup_email: str | None = None,
        statuses: Sequence[CoverageStatus] | None = None,
    ) -> list[Coverage]:
        """Coverages matching every given filter, ordered by start."""
        ...


# Where a keyset page ends: the sort time and the id of its last lead.
LeadPosition = tuple[datetime, int]


class LeadRepository(Protocol):
    """Stored leads; unique on (source, external_id)."""

    def add(self, lead: Lead) -> tuple[Lead, bool]:
        """Store a lead unless one with its source and external id exists; (lead, created)."""
        ...

    def get(self, lead_id: int) -> Lead:
        """One lead; NotFound when missing."""
        ...

    def save(self, lead: Lead) -> Lead:
        """Update a stored lead."""
        ...

    def uncontacted(self, *, received_before: datetime, after: LeadPosition | None = None,
                    limit: int = 500) -> list[Lead]:
        """New leads received before the given instant and not contacted, oldest first;
        `after` (received_at, id) continues from the previous page."""
        ...

    def two_way_before(self, *, before: datetime, after: LeadPosition | None = None,
                       limit: int = 500) -> list[Lead]:
        """Leads whose last two-way contact is at or before `before` and not yet lapsed,
        oldest first; `after` (last_two_way_at, id) continues from the previous page."""
        ...

    def lapsed(self, *, lapsed_from: datetime, lapsed_to: datetime) -> list[Lead]:
        """Leads whose credit protection lapsed in `[lapsed_from, lapsed_to)`."""
        ...

    def list(
        self,
        *,
        assigned_to: str | None = None,
        owner_email: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
    ) -> list[Lead]:
        """Leads matching every given filter, ordered by received time."""
        ...

    def page(
        self,
        *,
        limit: int,
        owner_email: str | None = None,
        assigned_to: str | None = None,
        status: LeadStatus | None = None,
        rating: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
    ) -> Page[Lead]:
        """The newest `limit` leads matching every filter, oldest of them first, and the total."""
        ...

    def get_many(self, lead_ids: Collection[int]) -> dict[int, Lead]:
        """The leads with these ids, by id, in one read; unknown ids are left out."""
        ...

    def count_open(self, *, assigned_to: str) -> int:
        """How many not-yet-contacted leads this person holds (their load)."""
        ...

    def count_owned(self, *, owner_email: str) -> int:
        """How many leads this OSC owns (for round-robin)."""
        ...


class ActivityRepository(Protocol):
    """Contacts, notes and ratings on leads."""

    def add_once(self, activity: Activity) -> tuple[Activity, bool]:
        """Store unless the lead already has an activity with the same external id
        (activities without one are always stored): (record, created)."""
        ...

    def add(self, activity: Activity) -> Activity:
        """Store an activity."""
        ...

    def for_lead(self, lead_id: int) -> list[Activity]:
        """A lead's activities, oldest first."""
        ...

    def notes_by(self, *, by_email: str, owner_email: str, start: datetime, end: datetime,
                 limit: int) -> list[Activity]:
        """Activities with notes `by_email` logged in `[start, end)` on leads `owner_email`
        owns, oldest first, at most `limit`."""
        ...


class TaskRepository(Protocol):
    """Follow-up tasks."""

    def add(self, task: Task) -> Task:
        """Store a task."""
        ...

    def save(self, task: Task) -> Task:
        """Update a task."""
        ...

    def get(self, task_id: int) -> Task:
        """One task; NotFound when missing."""
        ...

    def due_unreminded(self, *, now: datetime, limit: int = 500) -> list[Task]:
        """Open tasks due by `now` whose reminder for their current due time was not
        queued yet (`reminded_for` differs from `due_at`), soonest due first."""
        ...

    def mark_reminded(self, task_id: int, *, due_at: datetime) -> None:
        """Record that the reminder for `due_at` was queued; changes nothing else, and
        nothing when the task's due time has moved since."""
        ...

    def list(
        self,
        *,
        assignee_email: str | None = None,
        owner_email: str | None = None,
        status: TaskStatus | None = None,
        due_from: datetime | None = None,
        due_before: datetime | None = None,
        coverage_id: int | None = None,
    ) -> list[Task]:
        """Tasks matching every given filter, ordered by due time."""
        ...

    def page(
        self,
        *,
        limit: int,
        assignee_email: str | None = None,
        owner_email: str | None = None,
        status: TaskStatus | None = None,
        due_from: datetime | None = None,
        due_before: datetime | None = None,
    ) -> Page[Task]:
        """The first `limit` tasks by due time matching every filter, and the total."""
        ...

    def left_for(self, *, owner_email: str, created_by: str | None, coverage_id: int | None,
                 limit: int) -> Page[Task]:
        """Open tasks of `owner_email` that `created_by` left or that belong to the
        coverage, first `limit` by due time, and the total."""
        ...


class AppointmentRepository(Protocol):
    """Appointments set on leads, with credit."""

    def add(self, appointment: Appointment) -> Appointment:
        """Store an appointment."""
        ...

    def list(
        self,
        *,
        lead_id: int | None = None,
        coverage_id: int | None = None,
        at_from: datetime | None = None,
        at_to: datetime | None = None,
    ) -> list[Appointment]:
        """Appointments matching the filters (`at_from`/`at_to`: a half-open window),
        ordered by time."""
        ...


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
                next_send_at: datetime | None, item: OutboxItem | None = None) -> None:
        """Give the lease back (if still ours); nothing goes to the conversation before
        `next_send_at`. With `item`, its new state is saved in the same transaction."""
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
