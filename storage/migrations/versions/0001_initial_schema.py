"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_subject"), ["subject"], unique=False)

    op.create_table(
        "calendar_sync_state",
        sa.Column("osc_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("absences", sa.JSON(), nullable=True),
        sa.Column("last_good_at", UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("osc_email"),
    )
    op.create_table(
        "coverages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("osc_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("backup_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=True),
        sa.Column("declared_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_uids", sa.JSON(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coverages_backup_email"), ["backup_email"], unique=False
        )
        batch_op.create_index("ix_coverages_osc_status", ["osc_email", "status"], unique=False)
        batch_op.create_index("ix_coverages_status_start", ["status", "start"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("target_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("message", sa.JSON(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("ref_channel", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("ref_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("slack_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("teams_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("osc_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("osc_email", "channel", name="uq_routes_osc_channel"),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("community", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("owner_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("assigned_to", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("assignment_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=True),
        sa.Column("first_contact_at", UTCDateTime(), nullable=True),
        sa.Column("rating", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("last_two_way_at", UTCDateTime(), nullable=True),
        sa.Column("protection_lapsed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["coverages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_leads_source_external_id"),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_assigned_status", ["assigned_to", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_leads_last_two_way_at"), ["last_two_way_at"], unique=False
        )
        batch_op.create_index(
            "ix_leads_owner_received", ["owner_email", "received_at"], unique=False
        )
        batch_op.create_index("ix_leads_status_received", ["status", "received_at"], unique=False)

    op.create_table(
        "routing_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("adapter", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["coverages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coverage_id", "channel", name="uq_routing_switches_coverage_channel"),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("by_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("two_way", sa.Boolean(), nullable=False),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_lead_at", ["lead_id", "at"], unique=False)

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("credit_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("credit_to", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("bonus_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["coverages.id"],
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointments_coverage_id"), ["coverage_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_appointments_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("owner_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("assignee_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("cadence_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["coverages.id"],
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_assignee_status_due", ["assignee_email", "status", "due_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tasks_coverage_id"), ["coverage_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_owner_email"), ["owner_email"], unique=False)
        batch_op.create_index("ix_tasks_status_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_status_due")
        batch_op.drop_index(batch_op.f("ix_tasks_owner_email"))
        batch_op.drop_index(batch_op.f("ix_tasks_coverage_id"))
        batch_op.drop_index("ix_tasks_assignee_status_due")

    op.drop_table("tasks")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_lead_id"))
        batch_op.drop_index(batch_op.f("ix_appointments_coverage_id"))

    op.drop_table("appointments")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_lead_at")

    op.drop_table("activities")
    op.drop_table("routing_switches")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_status_received")
        batch_op.drop_index("ix_leads_owner_received")
        batch_op.drop_index(batch_op.f("ix_leads_last_two_way_at"))
        batch_op.drop_index("ix_leads_assigned_status")

    op.drop_table("leads")
    op.drop_table("routes")
    op.drop_table("people")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next")

    op.drop_table("outbox")
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.drop_index("ix_coverages_status_start")
        batch_op.drop_index("ix_coverages_osc_status")
        batch_op.drop_index(batch_op.f("ix_coverages_backup_email"))

    op.drop_table("coverages")
    op.drop_table("calendar_sync_state")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject"))

    op.drop_table("audit_log")
