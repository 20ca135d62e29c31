"""SQLModel tables. Repositories turn rows into domain records; nothing else sees rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _when(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True))


class PersonRow(SQLModel, table=True):
    """A person on the team, synced from app.yaml."""

    __tablename__ = "people"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=254)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    timezone: str | None = Field(default=None, max_length=64)
    slack_id: str | None = Field(default=None, max_length=32)
    teams_id: str | None = Field(default=None, max_length=200)


class CoverageRow(SQLModel, table=True):
    """One coverage."""

    __tablename__ = "coverages"
    __table_args__ = (Index("ix_coverages_osc_status", "osc_email", "status"),
                      Index("ix_coverages_status_start", "status", "start"))
    id: int | None = Field(default=None, primary_key=True)
    osc_email: str = Field(max_length=254)
    backup_email: str | None = Field(default=None, max_length=254, index=True)
    start: datetime = _when()
    end: datetime = _when()
    kind: str = Field(max_length=20)
    mode: str = Field(max_length=20)
    origin: str = Field(max_length=20)
    status: str = Field(max_length=20)
    skipped: Any = _json()
    declared_by: str | None = Field(default=None, max_length=254)
    notes: str = Field(default="")
    source_uids: Any = _json()
    started_at: datetime | None = _when(nullable=True)
    ended_at: datetime | None = _when(nullable=True)
    backup_chosen_by: str | None = Field(default=None, max_length=254)
    version: int = 0


class RoutingSwitchRow(SQLModel, table=True):
    """The journal of one channel's switch for one coverage."""

    __tablename__ = "routing_switches"
    __table_args__ = (UniqueConstraint("coverage_id", "channel",
                                       name="uq_routing_switches_coverage_channel"),)
    id: int | None = Field(default=None, primary_key=True)
    coverage_id: int = Field(foreign_key="coverages.id")
    channel: str = Field(max_length=20)
    adapter: str = Field(max_length=40)
    status: str = Field(max_length=20)
    before: Any = _json()
    after: Any = _json()
    attempts: int = 0
    last_error: str = ""
    updated_at: datetime = _when()
    actor: str = Field(default="", max_length=254)
    reason: str = ""
    version: int = 0


class RouteRow(SQLModel, table=True):
    """oscbot's own routing table."""

    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("osc_email", "channel", name="uq_routes_osc_channel"),)
    id: int | None = Field(default=None, primary_key=True)
    osc_email: str = Field(max_length=254)
    channel: str = Field(max_length=20)
    target: str = Field(max_length=254)


class RecordMoveRow(SQLModel, table=True):
    """One CRM record moved for a coverage."""

    __tablename__ = "record_moves"
    __table_args__ = (UniqueConstraint("coverage_id", "crm", "kind", "record_id",
                                       name="uq_record_moves_coverage_record"),
                      Index("ix_record_moves_osc_crm_status", "osc_email", "crm", "status"))
    id: int | None = Field(default=None, primary_key=True)
    coverage_id: int = Field(foreign_key="coverages.id")
    osc_email: str = Field(max_length=254)
    crm: str = Field(max_length=40)
    kind: str = Field(max_length=10)
    record_id: str = Field(max_length=200)
    before: str
    after: str
    status: str = Field(max_length=20)
    at: datetime = _when()
    note: str = ""


class AuditRow(SQLModel, table=True):
    """Append-only audit log."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when()
    actor: str = Field(max_length=254)
    action: str = Field(max_length=60)
    subject: str = Field(max_length=120, index=True)
    reason: str = ""
    before: Any = _json()
    after: Any = _json()


class LeadRow(SQLModel, table=True):
    """A lead; unique on (source, external_id)."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_leads_source_external_id"),
        Index("ix_leads_status_received", "status", "received_at"),
        Index("ix_leads_assigned_status_received", "assigned_to", "status", "received_at"),
        Index("ix_leads_owner_received", "owner_email", "received_at"),
        Index("ix_leads_owner_status_received", "owner_email", "status", "received_at"),
        Index("ix_leads_owner_rating_received", "owner_email", "rating", "received_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    external_id: str = Field(max_length=200)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    community: str | None = Field(default=None, max_length=200)
    message: str = ""
    received_at: datetime = _when()
    owner_email: str = Field(max_length=254)
    assigned_to: str = Field(max_length=254)
    assignment_reason: str = ""
    status: str = Field(max_length=20)
    coverage_id: int | None = Field(default=None, foreign_key="coverages.id")
    first_contact_at: datetime | None = _when(nullable=True)
    rating: str | None = Field(default=None, max_length=20)
    last_two_way_at: datetime | None = _when(nullable=True, index=True)
    protection_lapsed_at: datetime | None = _when(nullable=True)


class ActivityRow(SQLModel, table=True):
    """A contact, note or rating on a lead."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_lead_at", "lead_id", "at"),
                      Index("uq_activities_lead_external", "lead_id", "external_id",
                            unique=True),
                      Index("ix_activities_by_at", "by_email", "at"))
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id")
    kind: str = Field(max_length=20)
    direction: str = Field(max_length=20)
    by_email: str = Field(max_length=254)
    at: datetime = _when()
    two_way: bool = False
    notes: str = ""
    # The sender's id for this contact (a CRM activity id): a repeated webhook is one row.
    external_id: str | None = Field(default=None, max_length=200)


class TaskRow(SQLModel, table=True):
    """A follow-up task."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_assignee_status_due", "assignee_email", "status",
                            "due_at"),
                      Index("ix_tasks_status_due", "status", "due_at"))
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=500)
    due_at: datetime = _when()
    owner_email: str = Field(max_length=254, index=True)
    assignee_email: str = Field(max_length=254)
    lead_id: int | None = Field(default=None, foreign_key="leads.id")
    status: str = Field(max_length=20)
    coverage_id: int | None = Field(default=None, foreign_key="coverages.id", index=True)
    created_by: str | None = Field(default=None, max_length=254)
    cadence_step: int | None = None
    reminded_for: datetime | None = _when(nullable=True)


class AppointmentRow(SQLModel, table=True):
    """An appointment with its credit."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", index=True)
    set_by: str = Field(max_length=254)
    at: datetime = _when()
    credit_email: str = Field(max_length=254)
    credit_to: str = Field(max_length=20)
    bonus_email: str | None = Field(default=None, max_length=254)
    note: str = ""
    coverage_id: int | None = Field(default=None, foreign_key="coverages.id", index=True)


class OutboxRow(SQLModel, table=True):
    """An outgoing message; unique key makes queueing idempotent."""

    __tablename__ = "outbox"
    # The pending rows alone, by conversation: a claim steps from one conversation with
    # pending messages to the next without reading the sent history or idle ones.
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      Index("ix_outbox_channel_status_id", "channel", "status", "id"),
                      Index("ix_outbox_pending", "channel", "id",
                            postgresql_where=text("status = 'pending'"),
                            sqlite_where=text("status = 'pending'")))
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    target_kind: str = Field(max_length=20)
    target: str = Field(max_length=254)
    message: Any = _json()
    status: str = Field(max_length=20)
    created_at: datetime = _when()
    attempts: int = 0
    next_attempt_at: datetime | None = _when(nullable=True)
    ref_channel: str | None = Field(default=None, max_length=254)
    ref_id: str | None = Field(default=None, max_length=64)
    last_error: str = ""
    sent_at: datetime | None = _when(nullable=True)
    channel: str = Field(default="", max_length=260)
    in_flight: bool = False
    first_tried_at: datetime | None = _when(nullable=True)
    priority: int = 0


class OutboxChannelRow(SQLModel, table=True):
    """One conversation messages go to: who delivers it now (lease) and when it may next."""

    __tablename__ = "outbox_channels"
    channel: str = Field(primary_key=True, max_length=260)
    owner: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = _when(nullable=True)
    next_send_at: datetime | None = _when(nullable=True)
    last_served_at: datetime | None = _when(nullable=True)


class DeliveryPauseRow(SQLModel, table=True):
    """A platform rate limit every replica waits out (a scope of claims, until when)."""

    __tablename__ = "delivery_pauses"
    scope: str = Field(primary_key=True, max_length=20)
    until: datetime = _when()


class JobRunRow(SQLModel, table=True):
    """One run of a scheduled job for one slot (time // interval): once across replicas."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "slot", name="uq_job_runs_job_slot"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=60)
    slot: int = Field(sa_type=BigInteger)
    owner: str = Field(max_length=120)
    started_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
    outcome: str = Field(default="", max_length=200)


class InboundEventRow(SQLModel, table=True):
    """An inbound event already handled (Slack event id, interaction, Teams activity id)."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbound_events_source_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=40)
    event_id: str = Field(max_length=200)
    received_at: datetime = _when(index=True)


class CalendarSyncRow(SQLModel, table=True):
    """Per-OSC calendar memory: cursor and the last good absences."""

    __tablename__ = "calendar_sync_state"
    osc_email: str = Field(primary_key=True, max_length=254)
    cursor: Any = _json()
    absences: Any = _json()
    last_good_at: datetime | None = _when(nullable=True)
    consecutive_failures: int = 0
    last_error: str = ""
    stale: bool = False
    event_count: int | None = None
    suspect_since: datetime | None = _when(nullable=True)


class ConversationRefRow(SQLModel, table=True):
    """A chat conversation the bot learned about (Teams channel or 1:1 chat)."""

    __tablename__ = "conversation_refs"
    __table_args__ = (Index("ix_conversation_refs_kind_email", "kind", "email"),)
    conversation_id: str = Field(primary_key=True, max_length=400)
    service_url: str = Field(max_length=400)
    tenant_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    team_id: str | None = Field(default=None, max_length=400)
    aad_object_id: str | None = Field(default=None, max_length=64)
    user_id: str | None = Field(default=None, max_length=400)
    email: str | None = Field(default=None, max_length=254)
    name: str = Field(default="", max_length=200)
    updated_at: datetime = _when()


class WorkItemRow(SQLModel, table=True):
    """One item of a split job's slot (a calendar, a coverage): leased, then done once."""

    __tablename__ = "work_items"
    __table_args__ = (UniqueConstraint("job", "item", "slot", name="uq_work_items_job_item_slot"),
                      Index("ix_work_items_job_done", "job", "done_at"))
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=60)
    item: str = Field(max_length=260)
    slot: int = Field(sa_type=BigInteger)
    owner: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = _when(nullable=True)
    attempts: int = 0
    created_at: datetime = _when(index=True)
    done_at: datetime | None = _when(nullable=True)
