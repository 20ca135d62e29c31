"""Rows to domain records and back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.messages import Message
from bot.model import (
    Absence,
    AbsenceKind,
    Activity,
    ActivityKind,
    Appointment,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
    CreditTo,
    Lead,
    LeadStatus,
    SkippedBackup,
    Task,
    TaskStatus,
)
from bot.ports.chat import MessageRef
from bot.ports.delivery import OutboxItem, OutboxStatus
from bot.ports.routing import RoutingSwitch, SwitchStatus
from storage.tables import (
    ActivityRow,
    AppointmentRow,
    CoverageRow,
    LeadRow,
    OutboxRow,
    RoutingSwitchRow,
    TaskRow,
)


def coverage_row(c: Coverage) -> dict[str, Any]:
    """Column values for a coverage."""
    return {
        "osc_email": c.osc_email, "backup_email": c.backup_email, "start": c.start,
        "end": c.end, "kind": c.kind.value, "mode": c.mode.value, "origin": c.origin.value,
        "status": c.status.value, "skipped": [[s.email, s.reason] for s in c.skipped],
        "declared_by": c.declared_by, "notes": c.notes, "source_uids": list(c.source_uids),
        "started_at": c.started_at, "ended_at": c.ended_at,
        "backup_chosen_by": c.backup_chosen_by,
    }


def coverage(row: CoverageRow) -> Coverage:
    """A coverage from its row."""
    return Coverage(
        id=row.id, osc_email=row.osc_email, start=row.start, end=row.end,
        kind=AbsenceKind(row.kind), mode=CoverageMode(row.mode),
        origin=CoverageOrigin(row.origin), status=CoverageStatus(row.status),
        backup_email=row.backup_email,
        skipped=tuple(SkippedBackup(e, r) for e, r in row.skipped or ()),
        declared_by=row.declared_by, notes=row.notes,
        source_uids=tuple(row.source_uids or ()), started_at=row.started_at,
        ended_at=row.ended_at, backup_chosen_by=row.backup_chosen_by, version=row.version)


def lead_row(lead: Lead) -> dict[str, Any]:
    """Column values for a lead."""
    return {
        "source": lead.source, "external_id": lead.external_id, "name": lead.name,
        "email": lead.email, "phone": lead.phone, "community": lead.community,
        "message": lead.message, "received_at": lead.received_at,
        "owner_email": lead.owner_email, "assigned_to": lead.assigned_to,
        "assignment_reason": lead.assignment_reason, "status": lead.status.value,
        "coverage_id": lead.coverage_id, "first_contact_at": lead.first_contact_at,
        "rating": lead.rating, "last_two_way_at": lead.last_two_way_at,
        "protection_lapsed_at": lead.protection_lapsed_at,
    }


def lead(row: LeadRow) -> Lead:
    """A lead from its row."""
    return Lead(
        id=row.id, source=row.source, external_id=row.external_id, name=row.name,
        email=row.email, phone=row.phone, community=row.community, message=row.message,
        received_at=row.received_at, owner_email=row.owner_email,
        assigned_to=row.assigned_to, assignment_reason=row.assignment_reason,
        status=LeadStatus(row.status), coverage_id=row.coverage_id,
        first_contact_at=row.first_contact_at, rating=row.rating,
        last_two_way_at=row.last_two_way_at, protection_lapsed_at=row.protection_lapsed_at)


def activity(row: ActivityRow) -> Activity:
    """An activity from its row."""
    assert row.id is not None
    return Activity(id=row.id, lead_id=row.lead_id, kind=ActivityKind(row.kind),
                    direction=row.direction, by_email=row.by_email, at=row.at,
                    two_way=row.two_way, notes=row.notes, external_id=row.external_id)


def task_row(task: Task) -> dict[str, Any]:
    """Column values for a task."""
    return {
        "title": task.title, "due_at": task.due_at, "owner_email": task.owner_email,
        "assignee_email": task.assignee_email, "lead_id": task.lead_id,
        "status": task.status.value, "coverage_id": task.coverage_id,
        "created_by": task.created_by, "cadence_step": task.cadence_step,
        "reminded_for": task.reminded_for,
    }


def task(row: TaskRow) -> Task:
    """A task from its row."""
    return Task(id=row.id, title=row.title, due_at=row.due_at, owner_email=row.owner_email,
                assignee_email=row.assignee_email, lead_id=row.lead_id,
                status=TaskStatus(row.status), coverage_id=row.coverage_id,
                created_by=row.created_by, cadence_step=row.cadence_step,
                reminded_for=row.reminded_for)


def appointment(row: AppointmentRow) -> Appointment:
    """An appointment from its row."""
    return Appointment(id=row.id, lead_id=row.lead_id, set_by=row.set_by, at=row.at,
                       credit_email=row.credit_email, credit_to=CreditTo(row.credit_to),
                       bonus_email=row.bonus_email, note=row.note,
                       coverage_id=row.coverage_id)


def switch(row: RoutingSwitchRow) -> RoutingSwitch:
    """A routing switch from its row."""
    return RoutingSwitch(id=row.id, coverage_id=row.coverage_id, channel=row.channel,
                         adapter=row.adapter, status=SwitchStatus(row.status),
                         before=row.before, after=row.after, attempts=row.attempts,
                         last_error=row.last_error, updated_at=row.updated_at,
                         actor=row.actor, reason=row.reason, version=row.version)


def outbox_row(item: OutboxItem) -> dict[str, Any]:
    """Column values for an outbox item."""
    return {
        "key": item.key, "target_kind": item.target_kind, "target": item.target,
        "message": item.message.to_dict(), "created_at": item.created_at,
        "channel": item.conversation, "priority": item.priority, **delivery_state(item),
    }


def delivery_state(item: OutboxItem) -> dict[str, Any]:
    """The columns delivery changes on an outbox item (outbox.DELIVERY_STATE)."""
    return {
        "status": item.status.value, "attempts": item.attempts,
        "next_attempt_at": item.next_attempt_at,
        "ref_channel": item.ref.channel if item.ref else None,
        "ref_id": item.ref.id if item.ref else None, "last_error": item.last_error,
        "sent_at": item.sent_at, "in_flight": item.in_flight,
        "first_tried_at": item.first_tried_at,
    }


def outbox_item(row: OutboxRow) -> OutboxItem:
    """An outbox item from its row."""
    ref = (MessageRef(row.ref_channel, row.ref_id)
           if row.ref_channel is not None and row.ref_id is not None else None)
    return OutboxItem(id=row.id, key=row.key, target_kind=row.target_kind, target=row.target,
                      message=Message.from_dict(row.message), status=OutboxStatus(row.status),
                      created_at=row.created_at, attempts=row.attempts,
                      next_attempt_at=row.next_attempt_at, ref=ref,
                      last_error=row.last_error, sent_at=row.sent_at, channel=row.channel,
                      in_flight=row.in_flight, first_tried_at=row.first_tried_at,
                      priority=row.priority)


def absences_json(absences: tuple[Absence, ...]) -> list[dict[str, Any]]:
    """Absences as JSON."""
    return [{"start": a.start.isoformat(), "end": a.end.isoformat(), "kind": a.kind.value,
             "all_day": a.all_day, "summary": a.summary, "uids": list(a.uids)}
            for a in absences]


def absences_from_json(data: Any) -> tuple[Absence, ...]:
    """Absences stored by `absences_json`."""
    return tuple(Absence(datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"]),
                         AbsenceKind(d["kind"]), bool(d["all_day"]), str(d["summary"]),
                         tuple(d["uids"])) for d in data or ())
