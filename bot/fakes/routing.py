"""In-memory fakes of the routing ports: the switch journal, the route table, a CRM with
users, leads and tasks, and the record of CRM moves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config.model import PersonConfig
from bot.errors import RoutingError, StaleWrite
from bot.ports.routing import CrmRecord, MoveStatus, RecordKind, RecordMove, RoutingSwitch


class InMemorySwitches:
    """RoutingSwitchRepository in memory."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int, str], RoutingSwitch] = {}
        self._next_id = 1

    def get(self, *, coverage_id: int, channel: str) -> RoutingSwitch | None:
        """The switch for a coverage and channel."""
        return self._rows.get((coverage_id, channel))

    def save(self, switch: RoutingSwitch) -> RoutingSwitch:
        """Insert or update by (coverage_id, channel)."""
        key = (switch.coverage_id, switch.channel)
        existing = self._rows.get(key)
        if (existing.version if existing else 0) != switch.version or (
                existing is None and switch.id is not None):
            raise StaleWrite(f"switch {switch.channel} of coverage {switch.coverage_id} "
                             "changed since it was read")
        if existing is None:
            switch = dataclasses.replace(switch, id=self._next_id, version=1)
            self._next_id += 1
        else:
            switch = dataclasses.replace(switch, id=existing.id, version=switch.version + 1)
        self._rows[key] = switch
        return switch

    def list(self, *, coverage_id: int) -> list[RoutingSwitch]:
        """Every switch of a coverage."""
        return [s for (cid, _), s in sorted(self._rows.items()) if cid == coverage_id]


class InMemoryRoutes:
    """RouteRepository in memory."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], str] = {}

    def get(self, *, osc_email: str, channel: str) -> str | None:
        """Current target."""
        return self._rows.get((osc_email, channel))

    def set(self, *, osc_email: str, channel: str, target: str | None) -> None:
        """Set or clear the target."""
        if target is None:
            self._rows.pop((osc_email, channel), None)
        else:
            self._rows[(osc_email, channel)] = target


@dataclass
class FakeCrmItem:
    """A lead or task stored in the fake CRM."""

    kind: RecordKind
    id: str
    owner: str
    created_at: datetime
    due_at: datetime | None = None
    open: bool = True


class InMemoryCrm:
    """CrmClient in memory: users by email, records by id; `fail_next` injects an error."""

    name = "fakecrm"
    manual_steps: tuple[str, ...] = ()

    def __init__(self, users: dict[str, str]) -> None:
        self.users = dict(users)
        self.items: dict[tuple[RecordKind, str], FakeCrmItem] = {}
        self.writes: list[tuple[str, str]] = []
        self._failures: list[RoutingError] = []

    def add(self, item: FakeCrmItem) -> FakeCrmItem:
        """Store a lead or task."""
        self.items[(item.kind, item.id)] = item
        return item

    def fail_next(self, error: RoutingError) -> None:
        """Raise `error` from the next call."""
        self._failures.append(error)

    def user_id(self, person: PersonConfig) -> str:
        """The user id for the person's email."""
        self._maybe_fail()
        if person.email not in self.users:
            raise RoutingError(f"{person.name} is not a {self.name} user")
        return self.users[person.email]

    def new_leads(self, *, owner_id: str, since: datetime) -> list[CrmRecord]:
        """Open leads of the owner created since `since`."""
        self._maybe_fail()
        return [self._record(i) for i in self.items.values()
                if i.kind is RecordKind.LEAD and i.owner == owner_id and i.open
                and i.created_at >= since]

    def open_tasks(self, *, owner_id: str, due_before: datetime) -> list[CrmRecord]:
        """Open tasks of the owner due before `due_before`."""
        self._maybe_fail()
        return [self._record(i) for i in self.items.values()
                if i.kind is RecordKind.TASK and i.owner == owner_id and i.open
                and i.due_at is not None and i.due_at < due_before]

    def fetch(self, kind: RecordKind, record_id: str) -> CrmRecord | None:
        """The record, or None once deleted."""
        self._maybe_fail()
        item = self.items.get((kind, record_id))
        return self._record(item) if item else None

    def handed_owner(self, record: CrmRecord, *, from_id: str, to_id: str) -> str:
        """A single owner: the new owner is simply `to_id`."""
        return to_id

    def set_owner(self, record: CrmRecord, *, owner: str) -> CrmRecord:
        """Write the owner."""
        self._maybe_fail()
        item = self.items[(record.kind, record.id)]
        item.owner = owner
        self.writes.append((record.id, owner))
        return self._record(item)

    def _maybe_fail(self) -> None:
        if self._failures:
            raise self._failures.pop(0)

    @staticmethod
    def _record(item: FakeCrmItem) -> CrmRecord:
        return CrmRecord(item.kind, item.id, item.owner, item.open)


class InMemoryBatchCrm(InMemoryCrm):
    """InMemoryCrm that also reads and writes `batch_size` records per call, as HubSpot's
    batch endpoints do; `batches` records the size of every batch call."""

    def __init__(self, users: dict[str, str], *, batch_size: int = 2) -> None:
        super().__init__(users)
        self.batch_size = batch_size
        self.batches: list[tuple[str, int]] = []

    def fetch_many(self, kind: RecordKind, ids: Sequence[str]) -> dict[str, CrmRecord]:
        """The records that still exist, by id."""
        self._batch("read", len(ids))
        return {i: self._record(self.items[(kind, i)]) for i in ids if (kind, i) in self.items}

    def set_owners(self, kind: RecordKind, owners: Mapping[str, str]) -> dict[str, CrmRecord]:
        """Write every owner of records that still exist; the records written."""
        self._batch("update", len(owners))
        written = {}
        for record_id, owner in owners.items():
            item = self.items.get((kind, record_id))
            if item is None:
                continue
            item.owner = owner
            self.writes.append((record_id, owner))
            written[record_id] = self._record(item)
        return written

    def _batch(self, what: str, size: int) -> None:
        if size > self.batch_size:
            raise RoutingError(f"{self.name} refused a batch of {size} (at most "
                               f"{self.batch_size})")
        self._maybe_fail()
        self.batches.append((what, size))


class InMemoryRecordMoves:
    """RecordMoveRepository in memory; unique on (coverage, crm, kind, record)."""

    def __init__(self) -> None:
        self._rows: dict[int, RecordMove] = {}

    def add(self, move: RecordMove) -> tuple[RecordMove, bool]:
        """Store unless the same record already moved for the coverage."""
        for row in self._rows.values():
            if (row.coverage_id, row.crm, row.kind, row.record_id) == (
                    move.coverage_id, move.crm, move.kind, move.record_id):
                return row, False
        stored = dataclasses.replace(move, id=len(self._rows) + 1)
        self._rows[stored.id or 0] = stored
        return stored, True

    def save(self, move: RecordMove) -> RecordMove:
        """Replace a stored move."""
        assert move.id is not None and move.id in self._rows
        self._rows[move.id] = move
        return move

    def list(self, *, coverage_id: int | None = None, osc_email: str | None = None,
             crm: str | None = None,
             statuses: Sequence[MoveStatus] | None = None) -> list[RecordMove]:
        """Moves matching every filter, oldest first."""
        return [m for m in sorted(self._rows.values(), key=lambda m: m.id or 0)
                if (coverage_id is None or m.coverage_id == coverage_id)
                and (osc_email is None or m.osc_email == osc_email)
                and (crm is None or m.crm == crm)
                and (statuses is None or m.status in statuses)]
