"""SQL repositories for coverages, leads, activities, tasks and appointments."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, or_, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.model import (
    Activity,
    Appointment,
    Coverage,
    CoverageStatus,
    Lead,
    LeadStatus,
    Task,
    TaskStatus,
)
from bot.ports.records import LeadPosition, Page
from bot.ports.repositories import Repositories
from storage import convert, rows
from storage.audit import SqlAudit
from storage.calendar_sync import SqlCalendarSync
from storage.inbound import SqlInboundEvents
from storage.job_runs import SqlJobRuns
from storage.moves import SqlRecordMoves
from storage.outbox import SqlOutbox
from storage.routes import SqlRoutes
from storage.switches import SqlSwitches
from storage.tables import ActivityRow, AppointmentRow, CoverageRow, LeadRow, TaskRow
from storage.unit_of_work import SqlTransactions
from storage.work_items import SqlWorkItems


class SqlCoverages:
    """CoverageRepository on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, coverage: Coverage) -> Coverage:
        """Store a new coverage."""
        return rows.insert(self._engine, CoverageRow(**convert.coverage_row(coverage)),
                           convert.coverage)

    def hold(self, osc_email: str) -> None:
        """A PostgreSQL advisory lock on the OSC, held until the unit of work ends. On
        SQLite a unit of work already holds the database's single write lock."""
        if self._engine.dialect.name != "postgresql":
            return
        with rows.unit(self._engine) as session:
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                            {"key": f"coverage:{osc_email.lower()}"})

    def save(self, coverage: Coverage) -> Coverage:
        """Update a coverage if nobody changed it since it was read (compare-and-set)."""
        return rows.update_versioned(self._engine, CoverageRow, coverage.id, coverage.version,
                                     convert.coverage_row(coverage), convert.coverage,
                                     what="coverage")

    def get(self, coverage_id: int) -> Coverage:
        """One coverage."""
        return rows.fetch(self._engine, CoverageRow, coverage_id, convert.coverage,
                          what="coverage")

    def list(self, *, osc_email: str | None = None, backup_email: str | None = None,
             statuses: Sequence[CoverageStatus] | None = None) -> list[Coverage]:
        """Filtered coverages by start.

        Every Slack ack and every lead reads this, so the statement is built once per
        combination of filters and runs on a plain connection (building a select and an
        ORM session cost several times the query).
        """
        given = {"osc": osc_email, "backup": backup_email,
                 "statuses": [s.value for s in statuses] if statuses is not None else None}
        query = _coverage_query(*(value is not None for value in given.values()))
        return rows.read_all(self._engine, query, convert.coverage,
                             {k: v for k, v in given.items() if v is not None})


@functools.cache
def _coverage_query(osc: bool, backup: bool, statuses: bool) -> Any:
    query = select(CoverageRow)
    if osc:
        query = query.where(col(CoverageRow.osc_email) == bindparam("osc"))
    if backup:
        query = query.where(col(CoverageRow.backup_email) == bindparam("backup"))
    if statuses:
        query = query.where(col(CoverageRow.status).in_(bindparam("statuses", expanding=True)))
    return query.order_by(col(CoverageRow.start), col(CoverageRow.id))


class SqlLeads:
    """LeadRepository on SQL; unique on (source, external_id)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, lead: Lead) -> tuple[Lead, bool]:
        """Store unless it exists; a racing duplicate returns the winner.

        Insert first: new leads are the common case, and the unique key decides.
        """
        # Every lead arrives through here: the column values go straight into a core
        # INSERT, and the lead comes back with its new id (nothing else is computed).
        new_id = rows.insert_values(self._engine, LeadRow, convert.lead_row(lead), unique=True)
        if new_id is not None:
            return dataclasses.replace(lead, id=new_id), True
        winner = self.find(source=lead.source, external_id=lead.external_id)
        if winner is None:
            raise IntegrityError("INSERT", None, Exception("leads: a unique key other than "
                                                           "(source, external_id) exists"))
        return winner, False

    def find(self, *, source: str, external_id: str) -> Lead | None:
        """The lead with this source and external id."""
        return rows.select_one(self._engine, select(LeadRow).where(
            LeadRow.source == source, LeadRow.external_id == external_id), convert.lead)

    def get(self, lead_id: int) -> Lead:
        """One lead."""
        return rows.fetch(self._engine, LeadRow, lead_id, convert.lead, what="lead")

    def save(self, lead: Lead) -> Lead:
        """Update a lead."""
        return rows.update(self._engine, LeadRow, lead.id, convert.lead_row(lead),
                           convert.lead, what="lead")

    def uncontacted(self, *, received_before: datetime, after: LeadPosition | None = None,
                    limit: int = 500) -> list[Lead]:
        """New leads received by the instant, oldest first (uses ix_leads_status_received),
        the page after `after`."""
        query = (select(LeadRow)
                 .where(LeadRow.status == LeadStatus.NEW.value,
                        col(LeadRow.received_at) <= received_before,
                        *_after(col(LeadRow.received_at), after))
                 .order_by(col(LeadRow.received_at), col(LeadRow.id)).limit(limit))
        return rows.select_all(self._engine, query, convert.lead)

    def two_way_before(self, *, before: datetime, after: LeadPosition | None = None,
                       limit: int = 500) -> list[Lead]:
        """Leads whose protection may be running out (uses the last_two_way_at index),
        the page after `after`."""
        query = (select(LeadRow)
                 .where(col(LeadRow.last_two_way_at) <= before,
                        col(LeadRow.protection_lapsed_at).is_(None),
                        *_after(col(LeadRow.last_two_way_at), after))
                 .order_by(col(LeadRow.last_two_way_at), col(LeadRow.id)).limit(limit))
        return rows.select_all(self._engine, query, convert.lead)

    def lapsed(self, *, lapsed_from: datetime, lapsed_to: datetime) -> list[Lead]:
        """Leads whose protection lapsed in the window, by lapse time."""
        query = (select(LeadRow)
                 .where(col(LeadRow.protection_lapsed_at) >= lapsed_from,
                        col(LeadRow.protection_lapsed_at) < lapsed_to)
                 .order_by(col(LeadRow.protection_lapsed_at), col(LeadRow.id)))
        return rows.select_all(self._engine, query, convert.lead)

    def list(self, *, assigned_to: str | None = None, owner_email: str | None = None,
             received_from: datetime | None = None,
             received_to: datetime | None = None) -> list[Lead]:
        """Filtered leads by received time."""
        query = select(LeadRow)
        if assigned_to is not None:
            query = query.where(LeadRow.assigned_to == assigned_to)
        if owner_email is not None:
            query = query.where(LeadRow.owner_email == owner_email)
        if received_from is not None:
            query = query.where(col(LeadRow.received_at) >= received_from)
        if received_to is not None:
            query = query.where(col(LeadRow.received_at) < received_to)
        return rows.select_all(
            self._engine, query.order_by(col(LeadRow.received_at), col(LeadRow.id)),
            convert.lead)

    def page(self, *, limit: int, owner_email: str | None = None,
             assigned_to: str | None = None, status: LeadStatus | None = None,
             rating: str | None = None, received_from: datetime | None = None,
             received_to: datetime | None = None) -> Page[Lead]:
        """The newest `limit` matching leads (shown oldest first) and how many match."""
        where = [column == value for column, value in (
            (col(LeadRow.owner_email), owner_email), (col(LeadRow.assigned_to), assigned_to),
            (col(LeadRow.status), status.value if status else None),
            (col(LeadRow.rating), rating)) if value is not None]
        if received_from is not None:
            where.append(col(LeadRow.received_at) >= received_from)
        if received_to is not None:
            where.append(col(LeadRow.received_at) < received_to)
        return rows.select_page(self._engine, LeadRow, where, convert.lead, limit=limit,
                                newest=True, order=(col(LeadRow.received_at), col(LeadRow.id)))

    def get_many(self, lead_ids: Collection[int]) -> dict[int, Lead]:
        """Leads by id, read in IN batches small enough for any database."""
        wanted = sorted(set(lead_ids))
        found: dict[int, Lead] = {}
        for first in range(0, len(wanted), rows.IN_BATCH):
            query = select(LeadRow).where(
                col(LeadRow.id).in_(wanted[first:first + rows.IN_BATCH]))
            found.update((lead.id, lead) for lead in rows.select_all(
                self._engine, query, convert.lead) if lead.id is not None)
        return found

    def count_owned(self, *, owner_email: str) -> int:
        """Leads an OSC owns (uses ix_leads_owner_received)."""
        query = select(func.count()).select_from(LeadRow).where(
            LeadRow.owner_email == owner_email)
        with rows.unit(self._engine) as session:
            return int(session.exec(query).one())

    def count_open(self, *, assigned_to: str) -> int:
        """Uncontacted leads held by a person."""
        query = select(func.count()).select_from(LeadRow).where(
            LeadRow.assigned_to == assigned_to, LeadRow.status == LeadStatus.NEW.value)
        with rows.unit(self._engine) as session:
            return int(session.exec(query).one())


def _after(when: Any, position: LeadPosition | None) -> tuple[Any, ...]:
    """The keyset condition `(when, id) > position` (none for the first page)."""
    if position is None:
        return ()
    at, lead_id = position
    return (or_(when > at, and_(when == at, col(LeadRow.id) > lead_id)),)


class SqlActivities:
    """ActivityRepository on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, activity: Activity) -> Activity:
        """Store an activity."""
        return rows.insert(self._engine, self._row(activity), convert.activity)

    def add_once(self, activity: Activity) -> tuple[Activity, bool]:
        """Store unless the lead already has an activity with this external id."""
        if activity.external_id is None:
            return self.add(activity), True
        return rows.insert_unique(
            self._engine, self._row(activity), convert.activity,
            lambda: rows.select_one(self._engine, select(ActivityRow).where(
                ActivityRow.lead_id == activity.lead_id,
                ActivityRow.external_id == activity.external_id), convert.activity))

    @staticmethod
    def _row(activity: Activity) -> ActivityRow:
        return ActivityRow(
            lead_id=activity.lead_id, kind=activity.kind.value, direction=activity.direction,
            by_email=activity.by_email, at=activity.at, two_way=activity.two_way,
            notes=activity.notes, external_id=activity.external_id)

    def for_lead(self, lead_id: int) -> list[Activity]:
        """A lead's activities, oldest first."""
        query = (select(ActivityRow).where(ActivityRow.lead_id == lead_id)
                 .order_by(col(ActivityRow.at), col(ActivityRow.id)))
        return rows.select_all(self._engine, query, convert.activity)

    def notes_by(self, *, by_email: str, owner_email: str, start: datetime, end: datetime,
                 limit: int) -> list[Activity]:
        """One join: the person's notes on the owner's leads in the window."""
        query = (select(ActivityRow).join(LeadRow, col(LeadRow.id) == ActivityRow.lead_id)
                 .where(ActivityRow.by_email == by_email, LeadRow.owner_email == owner_email,
                        col(ActivityRow.at) >= start, col(ActivityRow.at) < end,
                        ActivityRow.notes != "")
                 .order_by(col(ActivityRow.at), col(ActivityRow.id)).limit(limit))
        return rows.select_all(self._engine, query, convert.activity)


class SqlTasks:
    """TaskRepository on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, task: Task) -> Task:
        """Store a task."""
        return rows.insert(self._engine, TaskRow(**convert.task_row(task)), convert.task)

    def save(self, task: Task) -> Task:
        """Update a task."""
        return rows.update(self._engine, TaskRow, task.id, convert.task_row(task),
                           convert.task, what="task")

    def get(self, task_id: int) -> Task:
        """One task."""
        return rows.fetch(self._engine, TaskRow, task_id, convert.task, what="task")

    def due_unreminded(self, *, now: datetime, limit: int = 500) -> list[Task]:
        """Due open tasks not reminded for their due time (uses ix_tasks_status_due)."""
        query = (select(TaskRow)
                 .where(TaskRow.status == TaskStatus.OPEN.value, col(TaskRow.due_at) <= now,
                        or_(col(TaskRow.reminded_for).is_(None),
                            col(TaskRow.reminded_for) != col(TaskRow.due_at)))
                 .order_by(col(TaskRow.due_at), col(TaskRow.id)).limit(limit))
        return rows.select_all(self._engine, query, convert.task)

    def mark_reminded(self, task_id: int, *, due_at: datetime) -> None:
        """One column of one row, so a task completed or snoozed meanwhile stays so."""
        with rows.unit(self._engine) as session:
            session.connection().execute(update(TaskRow).where(
                col(TaskRow.id) == task_id, col(TaskRow.due_at) == due_at,
            ).values(reminded_for=due_at))

    def list(self, *, assignee_email: str | None = None, owner_email: str | None = None,
             status: TaskStatus | None = None, due_from: datetime | None = None,
             due_before: datetime | None = None,
             coverage_id: int | None = None) -> list[Task]:
        """Filtered tasks by due time."""
        query = select(TaskRow)
        if assignee_email is not None:
            query = query.where(TaskRow.assignee_email == assignee_email)
        if owner_email is not None:
            query = query.where(TaskRow.owner_email == owner_email)
        if status is not None:
            query = query.where(TaskRow.status == status.value)
        if due_from is not None:
            query = query.where(col(TaskRow.due_at) >= due_from)
        if due_before is not None:
            query = query.where(col(TaskRow.due_at) < due_before)
        if coverage_id is not None:
            query = query.where(TaskRow.coverage_id == coverage_id)
        return rows.select_all(self._engine,
                               query.order_by(col(TaskRow.due_at), col(TaskRow.id)),
                               convert.task)

    def page(self, *, limit: int, assignee_email: str | None = None,
             owner_email: str | None = None, status: TaskStatus | None = None,
             due_from: datetime | None = None,
             due_before: datetime | None = None) -> Page[Task]:
        """The first `limit` matching tasks by due time and how many match."""
        where = [column == value for column, value in (
            (col(TaskRow.assignee_email), assignee_email),
            (col(TaskRow.owner_email), owner_email),
            (col(TaskRow.status), status.value if status else None)) if value is not None]
        if due_from is not None:
            where.append(col(TaskRow.due_at) >= due_from)
        if due_before is not None:
            where.append(col(TaskRow.due_at) < due_before)
        return rows.select_page(self._engine, TaskRow, where, convert.task, limit=limit,
                                order=(col(TaskRow.due_at), col(TaskRow.id)))

    def left_for(self, *, owner_email: str, created_by: str | None, coverage_id: int | None,
                 limit: int) -> Page[Task]:
        """Open tasks the backup left the owner, or of the coverage, by due time."""
        either = [column == value for column, value in ((col(TaskRow.created_by), created_by),
                                                        (col(TaskRow.coverage_id), coverage_id))
                  if value is not None]
        if not either:
            return Page(items=(), total=0)
        where = (TaskRow.owner_email == owner_email, TaskRow.status == TaskStatus.OPEN.value,
                 or_(*either))
        return rows.select_page(self._engine, TaskRow, where, convert.task, limit=limit,
                                order=(col(TaskRow.due_at), col(TaskRow.id)))


class SqlAppointments:
    """AppointmentRepository on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, appointment: Appointment) -> Appointment:
        """Store an appointment."""
        return rows.insert(self._engine, AppointmentRow(
            lead_id=appointment.lead_id, set_by=appointment.set_by, at=appointment.at,
            credit_email=appointment.credit_email, credit_to=appointment.credit_to.value,
            bonus_email=appointment.bonus_email, note=appointment.note,
            coverage_id=appointment.coverage_id), convert.appointment)

    def list(self, *, lead_id: int | None = None, coverage_id: int | None = None,
             at_from: datetime | None = None,
             at_to: datetime | None = None) -> list[Appointment]:
        """Filtered appointments by time (a window uses ix_appointments_at)."""
        query = select(AppointmentRow)
        if lead_id is not None:
            query = query.where(AppointmentRow.lead_id == lead_id)
        if coverage_id is not None:
            query = query.where(AppointmentRow.coverage_id == coverage_id)
        if at_from is not None:
            query = query.where(col(AppointmentRow.at) >= at_from)
        if at_to is not None:
            query = query.where(col(AppointmentRow.at) < at_to)
        return rows.select_all(
            self._engine, query.order_by(col(AppointmentRow.at), col(AppointmentRow.id)),
            convert.appointment)


def sql_repositories(engine: Engine) -> Repositories:
    """Every repository on one engine."""
    return Repositories(
        coverages=SqlCoverages(engine), leads=SqlLeads(engine),
        activities=SqlActivities(engine), tasks=SqlTasks(engine),
        appointments=SqlAppointments(engine), switches=SqlSwitches(engine),
        audit=SqlAudit(engine), outbox=SqlOutbox(engine),
        calendar_sync=SqlCalendarSync(engine), routes=SqlRoutes(engine),
        moves=SqlRecordMoves(engine), tx=SqlTransactions(engine), job_runs=SqlJobRuns(engine),
        inbound=SqlInboundEvents(engine), work_items=SqlWorkItems(engine))
