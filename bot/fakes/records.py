"""In-memory repositories of the records the product keeps (coverages, leads, activities,
tasks, appointments, the audit log), for tests and offline runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from bot.errors import NotFound, StaleWrite
from bot.model import (
    Activity,
    Appointment,
    AuditEntry,
    Coverage,
    CoverageStatus,
    Lead,
    LeadStatus,
    Task,
    TaskStatus,
)
from bot.ports.records import LeadPosition, Page


class InMemoryAudit:
    """AuditLog in memory."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        """Append an entry."""
        self.entries.append(entry)

    def list(self, *, subject: str | None = None) -> list[AuditEntry]:
        """Entries, optionally for one subject."""
        return [e for e in self.entries if subject is None or e.subject == subject]


_T = TypeVar("_T")


def _page(rows: Iterable[_T], *, key: Callable[[_T], Any], limit: int,
          newest: bool = False) -> Page[_T]:
    """The first (or, when `newest`, the last) `limit` rows in `key` order, and the total."""
    ordered = sorted(rows, key=key)
    shown = ordered[-limit:] if newest else ordered[:limit]
    return Page(items=tuple(shown), total=len(ordered))


class _Table(Generic[_T]):
    def __init__(self) -> None:
        self.rows: dict[int, _T] = {}
        self.next_id = 1

    def insert(self, row: _T) -> _T:
        row = dataclasses.replace(row, id=self.next_id)  # type: ignore[type-var]
        self.rows[self.next_id] = row
        self.next_id += 1
        return row

    def update(self, row: _T) -> _T:
        row_id = row.id  # type: ignore[attr-defined]
        if row_id not in self.rows:
            raise NotFound(f"no record {row_id}")
        self.rows[row_id] = row
        return row

    def get(self, row_id: int, what: str) -> _T:
        if row_id not in self.rows:
            raise NotFound(f"no {what} with id {row_id}")
        return self.rows[row_id]


class InMemoryCoverages:
    """CoverageRepository in memory."""

    def __init__(self) -> None:
        self._table: _Table[Coverage] = _Table()

    def add(self, coverage: Coverage) -> Coverage:
        """Store a new coverage."""
        return self._table.insert(coverage)

    def hold(self, osc_email: str) -> None:
        """One process, one store: nothing else can add a coverage meanwhile."""

    def save(self, coverage: Coverage) -> Coverage:
        """Update a coverage if nobody changed it since it was read (its version)."""
        assert coverage.id is not None
        stored = self._table.get(coverage.id, "coverage")
        if stored.version != coverage.version:
            raise StaleWrite(f"coverage {coverage.id} changed since it was read")
        return self._table.update(dataclasses.replace(coverage, version=coverage.version + 1))

    def get(self, coverage_id: int) -> Coverage:
        """One coverage."""
        return self._table.get(coverage_id, "coverage")

    def list(
        self,
        *,
        osc_email: str | None = None,
        backup_email: str | None = None,
        statuses: Sequence[CoverageStatus] | None = None,
    ) -> list[Coverage]:
        """Filtered coverages by start."""
        rows = [
            c for c in self._table.rows.values()
            if (osc_email is None or c.osc_email == osc_email)
            and (backup_email is None or c.backup_email == backup_email)
            and (statuses is None or c.status in statuses)
        ]
        return sorted(rows, key=lambda c: (c.start, c.id or 0))


class InMemoryLeads:
    """LeadRepository in memory."""

    def __init__(self) -> None:
        self._table: _Table[Lead] = _Table()

    def add(self, lead: Lead) -> tuple[Lead, bool]:
        """Store unless (source, external_id) exists."""
        for existing in self._table.rows.values():
            if (existing.source, existing.external_id) == (lead.source, lead.external_id):
                return existing, False
        return self._table.insert(lead), True

    def get(self, lead_id: int) -> Lead:
        """One lead."""
        return self._table.get(lead_id, "lead")

    def save(self, lead: Lead) -> Lead:
        """Update a lead."""
        return self._table.update(lead)

    def uncontacted(self, *, received_before: datetime, after: LeadPosition | None = None,
                    limit: int = 500) -> list[Lead]:
        """New leads received before the instant, oldest first, after a page position."""
        rows = [
            lead for lead in self._table.rows.values()
            if lead.status is LeadStatus.NEW and lead.received_at <= received_before
            and (after is None or (lead.received_at, lead.id or 0) > after)
        ]
        return sorted(rows, key=lambda lead: (lead.received_at, lead.id or 0))[:limit]

    def two_way_before(self, *, before: datetime, after: LeadPosition | None = None,
                       limit: int = 500) -> list[Lead]:
        """Leads whose protection may be running out, oldest contact first."""
        rows = [lead for lead in self._table.rows.values()
                if lead.last_two_way_at is not None and lead.last_two_way_at <= before
                and lead.protection_lapsed_at is None
                and (after is None or (lead.last_two_way_at, lead.id or 0) > after)]
        return sorted(rows, key=lambda lead: (lead.last_two_way_at or before,
                                              lead.id or 0))[:limit]

    def lapsed(self, *, lapsed_from: datetime, lapsed_to: datetime) -> list[Lead]:
        """Leads whose protection lapsed in the window, by lapse time."""
        rows = [lead for lead in self._table.rows.values()
                if lead.protection_lapsed_at is not None
                and lapsed_from <= lead.protection_lapsed_at < lapsed_to]
        return sorted(rows, key=lambda lead: (lead.protection_lapsed_at, lead.id or 0))

    def list(
        self,
        *,
        assigned_to: str | None = None,
        owner_email: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
    ) -> list[Lead]:
        """Filtered leads by received time."""
        rows = [
            lead for lead in self._table.rows.values()
            if (assigned_to is None or lead.assigned_to == assigned_to)
            and (owner_email is None or lead.owner_email == owner_email)
            and (received_from is None or lead.received_at >= received_from)
            and (received_to is None or lead.received_at < received_to)
        ]
        return sorted(rows, key=lambda lead: (lead.received_at, lead.id or 0))

    def page(self, *, limit: int, owner_email: str | None = None,
             assigned_to: str | None = None, status: LeadStatus | None = None,
             rating: str | None = None, received_from: datetime | None = None,
             received_to: datetime | None = None) -> Page[Lead]:
        """The newest `limit` matching leads, oldest of them first, and the total."""
        rows = [lead for lead in self.list(assigned_to=assigned_to, owner_email=owner_email,
                                           received_from=received_from,
                                           received_to=received_to)
                if (status is None or lead.status is status)
                and (rating is None or lead.rating == rating)]
        return _page(rows, key=lambda lead: (lead.received_at, lead.id or 0), limit=limit,
                     newest=True)

    def get_many(self, lead_ids: Collection[int]) -> dict[int, Lead]:
        """Leads by id; unknown ids left out."""
        return {i: self._table.rows[i] for i in set(lead_ids) if i in self._table.rows}

    def count_owned(self, *, owner_email: str) -> int:
        """Leads an OSC owns."""
        return sum(1 for lead in self._table.rows.values() if lead.owner_email == owner_email)

    def count_open(self, *, assigned_to: str) -> int:
        """Uncontacted leads held by a person."""
        return sum(
            1 for lead in self._table.rows.values()
            if lead.assigned_to == assigned_to and lead.status is LeadStatus.NEW
        )


class InMemoryActivities:
    """ActivityRepository in memory; reads `leads` to join on the lead's owner."""

    def __init__(self, leads: InMemoryLeads | None = None) -> None:
        self._table: _Table[Activity] = _Table()
        self._leads = leads or InMemoryLeads()

    def add(self, activity: Activity) -> Activity:
        """Store an activity."""
        return self._table.insert(activity)

    def add_once(self, activity: Activity) -> tuple[Activity, bool]:
        """Store unless the lead already has an activity with this external id."""
        if activity.external_id is not None:
            for existing in self._table.rows.values():
                if (existing.lead_id, existing.external_id) == (activity.lead_id,
                                                                activity.external_id):
                    return existing, False
        return self._table.insert(activity), True

    def for_lead(self, lead_id: int) -> list[Activity]:
        """A lead's activities, oldest first."""
        rows = [a for a in self._table.rows.values() if a.lead_id == lead_id]
        return sorted(rows, key=lambda a: (a.at, a.id or 0))

    def notes_by(self, *, by_email: str, owner_email: str, start: datetime, end: datetime,
                 limit: int) -> list[Activity]:
        """The person's notes in the window on leads the owner owns, oldest first."""
        owned = {lead.id for lead in self._leads.list(owner_email=owner_email)}
        rows = [a for a in self._table.rows.values()
                if a.by_email == by_email and a.lead_id in owned and start <= a.at < end
                and a.notes]
        return sorted(rows, key=lambda a: (a.at, a.id or 0))[:limit]


class InMemoryTasks:
    """TaskRepository in memory."""

    def __init__(self) -> None:
        self._table: _Table[Task] = _Table()

    def add(self, task: Task) -> Task:
        """Store a task."""
        return self._table.insert(task)

    def save(self, task: Task) -> Task:
        """Update a task."""
        return self._table.update(task)

    def get(self, task_id: int) -> Task:
        """One task."""
        return self._table.get(task_id, "task")

    def due_unreminded(self, *, now: datetime, limit: int = 500) -> list[Task]:
        """Due open tasks not reminded for their due time, soonest first."""
        return [t for t in self.list(status=TaskStatus.OPEN)
                if t.due_at <= now and t.reminded_for != t.due_at][:limit]

    def mark_reminded(self, task_id: int, *, due_at: datetime) -> None:
        """Remember the reminded due time unless the task moved."""
        task = self._table.rows.get(task_id)
        if task is not None and task.due_at == due_at:
            self._table.rows[task_id] = dataclasses.replace(task, reminded_for=due_at)

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
        """Filtered tasks by due time."""
        rows = [
            t for t in self._table.rows.values()
            if (assignee_email is None or t.assignee_email == assignee_email)
            and (owner_email is None or t.owner_email == owner_email)
            and (status is None or t.status is status)
            and (due_from is None or t.due_at >= due_from)
            and (due_before is None or t.due_at < due_before)
            and (coverage_id is None or t.coverage_id == coverage_id)
        ]
        return sorted(rows, key=lambda t: (t.due_at, t.id or 0))

    def page(self, *, limit: int, assignee_email: str | None = None,
             owner_email: str | None = None, status: TaskStatus | None = None,
             due_from: datetime | None = None,
             due_before: datetime | None = None) -> Page[Task]:
        """The first `limit` matching tasks by due time, and the total."""
        return _page(self.list(assignee_email=assignee_email, owner_email=owner_email,
                               status=status, due_from=due_from, due_before=due_before),
                     key=lambda t: (t.due_at, t.id or 0), limit=limit)

    def left_for(self, *, owner_email: str, created_by: str | None, coverage_id: int | None,
                 limit: int) -> Page[Task]:
        """Open tasks the backup left the owner, or of the coverage, by due time."""
        rows = [t for t in self.list(owner_email=owner_email, status=TaskStatus.OPEN)
                if (created_by is not None and t.created_by == created_by)
                or (coverage_id is not None and t.coverage_id == coverage_id)]
        return _page(rows, key=lambda t: (t.due_at, t.id or 0), limit=limit)


class InMemoryAppointments:
    """AppointmentRepository in memory."""

    def __init__(self) -> None:
        self._table: _Table[Appointment] = _Table()

    def add(self, appointment: Appointment) -> Appointment:
        """Store an appointment."""
        return self._table.insert(appointment)

    def list(
        self, *, lead_id: int | None = None, coverage_id: int | None = None,
        at_from: datetime | None = None, at_to: datetime | None = None,
    ) -> list[Appointment]:
        """Filtered appointments by time."""
        rows = [
            a for a in self._table.rows.values()
            if (lead_id is None or a.lead_id == lead_id)
            and (coverage_id is None or a.coverage_id == coverage_id)
            and (at_from is None or a.at >= at_from) and (at_to is None or a.at < at_to)
        ]
        return sorted(rows, key=lambda a: (a.at, a.id or 0))
