"""Domain records: absences, coverages, leads, activities, tasks, appointments.

Plain frozen dataclasses; all datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class AbsenceKind(StrEnum):
    """Why someone is away, as read from a calendar or declared."""

    VACATION = "vacation"
    LEAVE = "leave"
    SICK = "sick"
    DAY_OFF = "day_off"
    HOLIDAY = "holiday"
    OUT_OF_OFFICE = "out_of_office"


@dataclass(frozen=True)
class Absence:
    """A stretch of time a person is away; `end` is exclusive."""

    start: datetime
    end: datetime
    kind: AbsenceKind
    all_day: bool = False
    summary: str = ""
    uids: tuple[str, ...] = ()

    @property
    def duration(self) -> timedelta:
        """How long the absence lasts."""
        return self.end - self.start

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when this absence shares any instant with `[start, end)`."""
        return self.start < end and start < self.end

    def covers(self, moment: datetime) -> bool:
        """True when `moment` falls inside the absence."""
        return self.start <= moment < self.end


@dataclass(frozen=True)
class SkippedEvent:
    """A calendar event that was not taken as an absence, and why."""

    uid: str
    reason: str


class CoverageStatus(StrEnum):
    """Lifecycle of a coverage: planned -> active -> returned, or cancelled."""

    PLANNED = "planned"
    ACTIVE = "active"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class CoverageMode(StrEnum):
    """Short-term: backup does first outreach. Long-term: backup owns new leads."""

    SHORT_TERM = "short_term"
    LONG_TERM = "long_term"


class CoverageOrigin(StrEnum):
    """Where a coverage came from; only calendar coverages follow calendar changes."""

    CALENDAR = "calendar"
    MANUAL = "manual"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class SkippedBackup:
    """A backup passed over when choosing who covers, with the reason."""

    email: str
    reason: str


@dataclass(frozen=True)
class Coverage:
    """One absence of one OSC, covered (or not) by one backup."""

    id: int | None
    osc_email: str
    start: datetime
    end: datetime
    kind: AbsenceKind
    mode: CoverageMode
    origin: CoverageOrigin
    status: CoverageStatus
    backup_email: str | None
    skipped: tuple[SkippedBackup, ...] = ()
    declared_by: str | None = None
    notes: str = ""
    source_uids: tuple[str, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # Who picked the backup by hand; None when the backup list's order decided.
    backup_chosen_by: str | None = None
    # Bumped by every stored change; a save carrying an older version is refused
    # (StaleWrite), so two replicas cannot both start or end the same coverage.
    version: int = 0

    @property
    def is_open(self) -> bool:
        """True while the coverage is planned or active."""
        return self.status in (CoverageStatus.PLANNED, CoverageStatus.ACTIVE)

    def covers(self, moment: datetime) -> bool:
        """True when `moment` is inside this coverage's window."""
        return self.start <= moment < self.end


class LeadStatus(StrEnum):
    """Where a lead stands in the speed-to-lead process."""

    NEW = "new"
    CONTACTED = "contacted"
    NOT_A_LEAD = "not_a_lead"


@dataclass(frozen=True)
class Lead:
    """A prospect who asked about a home or a vehicle."""

    id: int | None
    source: str
    external_id: str
    name: str
    email: str | None
    phone: str | None
    community: str | None
    message: str
    received_at: datetime
    owner_email: str
    assigned_to: str
    assignment_reason: str
    status: LeadStatus = LeadStatus.NEW
    coverage_id: int | None = None
    first_contact_at: datetime | None = None
    rating: str | None = None
    last_two_way_at: datetime | None = None
    protection_lapsed_at: datetime | None = None


class ActivityKind(StrEnum):
    """What kind of touch an activity records."""

    CALL = "call"
    EMAIL = "email"
    TEXT = "text"
    NOTE = "note"
    APPOINTMENT = "appointment"
    RATING = "rating"


@dataclass(frozen=True)
class Activity:
    """A contact, note or rating logged on a lead."""

    id: int | None
    lead_id: int
    kind: ActivityKind
    direction: str
    by_email: str
    at: datetime
    two_way: bool = False
    notes: str = ""
    external_id: str | None = None

    @property
    def is_contact(self) -> bool:
        """True for an outbound or two-way call, email, text or appointment."""
        return self.kind is not ActivityKind.NOTE and self.kind is not ActivityKind.RATING and (
            self.direction == "outbound" or self.two_way
        )


class TaskStatus(StrEnum):
    """Open or done."""

    OPEN = "open"
    DONE = "done"


@dataclass(frozen=True)
class Task:
    """A follow-up activity due at a time, owned by someone, possibly moved to a backup."""

    id: int | None
    title: str
    due_at: datetime
    owner_email: str
    assignee_email: str
    lead_id: int | None = None
    status: TaskStatus = TaskStatus.OPEN
    coverage_id: int | None = None
    created_by: str | None = None
    cadence_step: int | None = None
    reminded_for: datetime | None = None


class CreditTo(StrEnum):
    """Whose numbers an appointment counts toward."""

    OSC = "osc"
    BACKUP = "backup"


@dataclass(frozen=True)
class Appointment:
    """An appointment set on a lead, with who set it and who earns the credit."""

    id: int | None
    lead_id: int
    set_by: str
    at: datetime
    credit_email: str
    credit_to: CreditTo
    bonus_email: str | None
    note: str = ""
    coverage_id: int | None = None


@dataclass(frozen=True)
class RoutingState:
    """An adapter's view of where one channel routes, as an opaque comparable snapshot."""

    channel: str
    target: str
    details: dict[str, str] = field(default_factory=dict)


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
