"""Repositories of the records the product keeps: coverages, leads, activities, tasks,
appointments and the audit log, with the `Page` they return screens in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

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


class AuditLog(Protocol):
    """Append-only record of every switch and decision."""

    def record(self, entry: AuditEntry) -> None:
        """Append an entry."""
        ...

    def list(self, *, subject: str | None = None) -> list[AuditEntry]:
        """Entries, oldest first, optionally for one subject."""
        ...


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

    def hold(self, osc_email: str) -> None:
        """Inside a unit of work: wait until no other transaction (in any replica) is
        adding a coverage for this OSC, and keep them waiting until this one ends, so a
        check for overlapping coverages and the insert that follows cannot race."""
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
