"""The lead channel for a CRM: a routing adapter that moves records, recorded one by one.

A CRM does not route by one pointer: each lead and task has an owner. Covering for
an OSC therefore moves records, and putting things back moves exactly those records
back. The rules (from how online sales teams run a backup plan):

- Tasks of the OSC due before the coverage ends move to the backup, in both modes,
  so the backup works them under their own login.
- Short-term: leads stay the OSC's. The backup does the first outreach from oscbot's
  alerts, adds notes and a future task for the OSC.
- Long-term: leads created in the CRM during the coverage and owned by the OSC are
  reassigned to the backup, who runs the follow-up process.
- Existing leads never move.
- On return every moved record still owned by the backup goes back; completed tasks
  and converted leads stay with whoever finished them; a record somebody changed by
  hand meanwhile is reported and left alone.

A CRM with batch endpoints (HubSpot's take 100 records a call) is read and written a
batch at a time; every record is still recorded on its own.

`switch` checks both people exist in the CRM and points oscbot's own lead route at
the backup; `hand_over` (run right after the switch and then every few minutes by a
job) moves the records the rules name; `restore` moves each recorded record back
unless it was finished or changed by hand, then points the route home. Every record
is written down before it is touched, so a crash at any point is finished by the next
run without moving anything twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from itertools import groupby

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import Coverage, CoverageMode, RoutingState
from bot.ports.clock import Clock
from bot.ports.routing import (
    BatchCrmClient,
    CrmClient,
    CrmRecord,
    MoveStatus,
    RecordKind,
    RecordMove,
    RecordMoveRepository,
    RouteRepository,
)

CRM_NAMES = {"hubspot": "HubSpot", "salesforce": "Salesforce", "lasso": "Lasso"}


def crm_name(crm: str) -> str:
    """A CRM's name as people write it."""
    return CRM_NAMES.get(crm, crm)


OUTSTANDING = (MoveStatus.PENDING, MoveStatus.MOVED)  # may still need to go back


class CrmRouting:
    """Routing adapter for the `leads` channel backed by a CRM."""

    def __init__(self, *, crm: CrmClient, routes: RouteRepository,
                 moves: RecordMoveRepository, clock: Clock, channel: str = "leads",
                 keep_new_leads_with_backup: bool = False) -> None:
        self.name = crm.name
        self._crm = crm
        self._routes = routes
        self._moves = moves
        self._clock = clock
        self._channel = channel
        self._keep_leads = keep_new_leads_with_backup

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """Who the OSC's new leads go to now."""
        target = self._routes.get(osc_email=osc.email, channel=self._channel)
        return RoutingState(self._channel, target or osc.email, {"crm": self.name})

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Check both people are CRM users, then route the OSC's new leads to the backup."""
        for person in (osc, backup):
            self._user_id(person, step=self._by_hand(osc, backup))
        self._routes.set(osc_email=osc.email, channel=self._channel, target=backup.email)
        state = self.read(osc=osc)
        if self._crm.manual_steps:
            state.details["also_by_hand"] = "; ".join(
                step.format(osc=osc.name, backup=backup.name) for step in self._crm.manual_steps)
        return state

    def hand_over(self, *, coverage: Coverage, osc: PersonConfig,
                  backup: PersonConfig) -> int:
        """Move the records the coverage calls for to the backup; returns how many moved."""
        assert coverage.id is not None
        step = self._by_hand(osc, backup)
        osc_id = self._user_id(osc, step=step)
        backup_id = self._user_id(backup, step=step)
        self._settle_pending(coverage.id)
        records = self._crm.open_tasks(owner_id=osc_id, due_before=coverage.end)
        if coverage.mode is CoverageMode.LONG_TERM:
            records += self._crm.new_leads(owner_id=osc_id, since=coverage.start)
        moved = 0
        for chunk in self._chunks(records):
            todo: list[tuple[RecordMove, CrmRecord]] = []
            for record in chunk:
                move, created = self._moves.add(RecordMove(
                    id=None, coverage_id=coverage.id, osc_email=osc.email, crm=self.name,
                    kind=record.kind, record_id=record.id, before=record.owner,
                    after=self._crm.handed_owner(record, from_id=osc_id, to_id=backup_id),
                    status=MoveStatus.PENDING, at=self._clock.now()))
                if not created and move.status is not MoveStatus.PENDING:
                    # Moved once already and back with the OSC: somebody decided that by hand.
                    continue
                todo.append((move, record))
            written = self._write(todo[0][1].kind, {m.record_id: (r, m.after) for m, r in todo}
                                  ) if todo else set()
            for move, _ in todo:
                # A record deleted before it could be written stays pending; on return it
                # is found gone.
                if move.record_id in written:
                    self._moves.save(dataclasses.replace(move, status=MoveStatus.MOVED,
                                                         at=self._clock.now()))
                    moved += 1
        return moved

    def _chunks(self, records: Sequence[CrmRecord]) -> Iterator[list[CrmRecord]]:
        # One record at a time unless the CRM writes many per call; a chunk holds one kind.
        size = self._crm.batch_size if isinstance(self._crm, BatchCrmClient) else 1
        for _, same in groupby(records, key=lambda r: r.kind):
            group = list(same)
            for start in range(0, len(group), size):
                yield group[start:start + size]

    def _read(self, kind: RecordKind, ids: Sequence[str]) -> dict[str, CrmRecord]:
        if isinstance(self._crm, BatchCrmClient):
            return self._crm.fetch_many(kind, ids)
        found = {record_id: self._crm.fetch(kind, record_id) for record_id in ids}
        return {record_id: record for record_id, record in found.items() if record is not None}

    def _write(self, kind: RecordKind, owners: dict[str, tuple[CrmRecord, str]]) -> set[str]:
        """Write owners; the ids written (a record the CRM no longer has is left out)."""
        if isinstance(self._crm, BatchCrmClient):
            return set(self._crm.set_owners(kind, {i: owner for i, (_, owner) in owners.items()}))
        written = set()
        for record_id, (record, owner) in owners.items():
            try:
                self._crm.set_owner(record, owner=owner)
            except RoutingError as exc:
                if not exc.not_found:
                    raise
                continue
            written.add(record_id)
        return written

    def _settle_pending(self, coverage_id: int) -> None:
        # A run that died between writing a record and noting it leaves it pending.
        pending = self._moves.list(coverage_id=coverage_id, crm=self.name,
                                   statuses=(MoveStatus.PENDING,))
        for chunk in self._move_chunks(pending):
            current = self._read(chunk[0].kind, [m.record_id for m in chunk])
            for move in chunk:
                found = current.get(move.record_id)
                if found is not None and found.owner == move.after:
                    self._moves.save(dataclasses.replace(move, status=MoveStatus.MOVED))

    def _move_chunks(self, moves: Sequence[RecordMove]) -> Iterator[list[RecordMove]]:
        # Oldest first, as listed; a chunk holds one kind.
        if not isinstance(self._crm, BatchCrmClient):
            yield from ([move] for move in moves)
            return
        size = self._crm.batch_size
        by_kind: dict[RecordKind, list[RecordMove]] = {}
        for move in moves:
            by_kind.setdefault(move.kind, []).append(move)
        for group in by_kind.values():
            for start in range(0, len(group), size):
                yield group[start:start + size]

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Move every recorded record back, then route new leads to the OSC again.

        Records changed by hand are left alone and named in `details["conflict"]`.
        """
        changed: list[RecordMove] = []
        for chunk in self._move_chunks(self._moves.list(
                osc_email=osc.email, crm=self.name, statuses=OUTSTANDING)):
            changed += self._hand_back(chunk)
        target = None if snapshot.target == osc.email else snapshot.target
        self._routes.set(osc_email=osc.email, channel=self._channel, target=target)
        state = self.read(osc=osc)
        left = [m for m in changed if m.status is MoveStatus.CHANGED]
        if left:
            state.details["conflict"] = (
                f"{crm_name(self.name)} records reassigned by hand while covering stay with "
                "their new owner: " + "; ".join(f"{m.kind.value} {m.record_id} ({m.note})"
                                               for m in left))
        return state

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: both people are CRM users and their records can be read; plus the
        steps this CRM leaves to people."""
        problems = []
        ids = {}
        for person in (osc, backup):
            try:
                ids[person.email] = self._user_id(person, step="")
            except RoutingError as exc:
                problems.append(str(exc))
        if osc.email in ids:
            try:
                self._crm.new_leads(owner_id=ids[osc.email], since=self._clock.now())
            except RoutingError as exc:
                problems.append(str(exc))
        return problems + [
            "manual step: " + step.format(osc=osc.name, backup=backup.name)
            for step in self._crm.manual_steps]

    def _hand_back(self, moves: list[RecordMove]) -> list[RecordMove]:
        kind = moves[0].kind
        current = self._read(kind, [m.record_id for m in moves])
        verdicts = {m.record_id: self._verdict(m, current.get(m.record_id)) for m in moves}
        back = {m.record_id: (current[m.record_id], m.before) for m in moves
                if verdicts[m.record_id][0] is MoveStatus.RETURNED
                and current[m.record_id].owner != m.before}
        written = self._write(kind, back) if back else set()
        done = []
        for move in moves:
            status, note = verdicts[move.record_id]
            if move.record_id in back and move.record_id not in written:
                status, note = MoveStatus.GONE, "deleted in the CRM"
            done.append(self._moves.save(dataclasses.replace(
                move, status=status, note=note, at=self._clock.now())))
        return done

    def _verdict(self, move: RecordMove, current: CrmRecord | None) -> tuple[MoveStatus, str]:
        if current is None:
            return MoveStatus.GONE, "deleted in the CRM"
        if current.owner == move.before:
            return MoveStatus.RETURNED, "already with the OSC"
        if not current.open:
            what = "completed" if move.kind is RecordKind.TASK else "converted"
            return MoveStatus.FINISHED, f"{what} while covering; left with whoever did it"
        if current.owner != move.after:
            return MoveStatus.CHANGED, f"now owned by {current.owner_label or current.owner}"
        if move.kind is RecordKind.LEAD and self._keep_leads:
            return MoveStatus.KEPT, "kept with the backup (keep_new_leads_with_backup)"
        return MoveStatus.RETURNED, ""

    def _user_id(self, person: PersonConfig, *, step: str) -> str:
        try:
            return self._crm.user_id(person)
        except RoutingError as exc:
            raise RoutingError(str(exc), transient=exc.transient, retry_after=exc.retry_after,
                               manual_step=step or exc.manual_step) from None

    def _by_hand(self, osc: PersonConfig, backup: PersonConfig) -> str:
        return (f"In {crm_name(self.name)}, give {backup.name} {osc.name}'s open tasks due "
                "while away (and, for a long leave, the new leads) and confirm here")


