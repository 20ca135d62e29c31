"""Routing ports: switching one channel (`RoutingAdapter`), oscbot's own route table,
the journal of switches, and what the CRM hand-over needs from a CRM's API with the
record of every record it moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.config.model import PersonConfig
from bot.model import (
    Coverage,
    CoverageMode,
    RoutingState,
)
from bot.routing.crm import CrmRecord, MoveStatus, RecordKind, RecordMove
from bot.routing.journal import RoutingSwitch


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
