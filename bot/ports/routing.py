"""Routing ports: switching one channel (`RoutingAdapter`), oscbot's own route table, the
journal of switches, and what the CRM hand-over needs from a CRM's API, with the record
of every record it moved; and the records these ports carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from bot.config.model import PersonConfig
from bot.model import (
    Coverage,
    CoverageMode,
    RoutingState,
)


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


class RecordKind(StrEnum):
    """What kind of CRM record moved."""

    LEAD = "lead"
    TASK = "task"


@dataclass(frozen=True)
class CrmRecord:
    """A lead or task as the CRM reports it: its id, its owner and whether it is open.

    `owner` is the CRM's own value (a user id, or for CRMs with several assigned reps
    the canonical list), compared as is and written back as is.
    """

    kind: RecordKind
    id: str
    owner: str
    open: bool = True
    owner_label: str = ""  # how to name the owner to people, when `owner` is not plain


class MoveStatus(StrEnum):
    """Where one record's hand-over stands."""

    PENDING = "pending"  # recorded, not yet confirmed moved
    MOVED = "moved"
    RETURNED = "returned"
    KEPT = "kept"  # long-term leads left with the backup on purpose
    FINISHED = "finished"  # completed task or converted lead: stays with who finished it
    CHANGED = "changed"  # changed by hand meanwhile: reported, left alone
    GONE = "gone"  # deleted in the CRM


@dataclass(frozen=True)
class RecordMove:
    """One CRM record moved for one coverage; unique on (coverage, crm, kind, record)."""

    id: int | None
    coverage_id: int
    osc_email: str
    crm: str
    kind: RecordKind
    record_id: str
    before: str
    after: str
    status: MoveStatus
    at: datetime
    note: str = ""


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


class CrmClient(Protocol):
    """What the hand-over needs from a CRM's API. Every call raises RoutingError on failure."""

    name: str
    # Steps this CRM's API cannot take, for people to do by hand ({osc}, {backup}).
    manual_steps: tuple[str, ...]

    def user_id(self, person: PersonConfig) -> str:
        """The person's CRM user id (from `routing_ids` or looked up by email)."""
        ...

    def new_leads(self, *, owner_id: str, since: datetime) -> list[CrmRecord]:
        """Open leads owned by `owner_id` created at or after `since`."""
        ...

    def open_tasks(self, *, owner_id: str, due_before: datetime) -> list[CrmRecord]:
        """Open tasks owned by `owner_id` due before `due_before`."""
        ...

    def fetch(self, kind: RecordKind, record_id: str) -> CrmRecord | None:
        """The record now, or None when it was deleted."""
        ...

    def handed_owner(self, record: CrmRecord, *, from_id: str, to_id: str) -> str:
        """The owner value the record has once `to_id` takes over from `from_id` (no I/O)."""
        ...

    def set_owner(self, record: CrmRecord, *, owner: str) -> CrmRecord:
        """Write an owner value (from `handed_owner` or one read before); returns the record."""
        ...


@runtime_checkable
class BatchCrmClient(Protocol):
    """A CrmClient that also reads and writes many records per call (HubSpot's batch
    endpoints); the hand-over then moves records `batch_size` at a time."""

    batch_size: int

    def fetch_many(self, kind: RecordKind, ids: Sequence[str]) -> dict[str, CrmRecord]:
        """The records that still exist, by id; deleted ones are absent."""
        ...

    def set_owners(self, kind: RecordKind, owners: Mapping[str, str]) -> dict[str, CrmRecord]:
        """Write each record's owner (id to owner value); the records written, by id (ones
        the CRM no longer has are absent)."""
        ...


class RecordMoveRepository(Protocol):
    """The record of CRM hand-overs."""

    def add(self, move: RecordMove) -> tuple[RecordMove, bool]:
        """Store a move unless this coverage already moved this record; (move, created)."""
        ...

    def save(self, move: RecordMove) -> RecordMove:
        """Update a stored move."""
        ...

    def list(self, *, coverage_id: int | None = None, osc_email: str | None = None,
             crm: str | None = None,
             statuses: Sequence[MoveStatus] | None = None) -> list[RecordMove]:
        """Moves matching every given filter, oldest first."""
        ...


@runtime_checkable
class RecordHandover(Protocol):
    """An adapter that, once switched, also moves records (a CRM's leads and tasks)."""

    def hand_over(self, *, coverage: Coverage, osc: PersonConfig, backup: PersonConfig) -> int:
        """Move what the coverage calls for; idempotent; returns how many records moved."""
        ...


