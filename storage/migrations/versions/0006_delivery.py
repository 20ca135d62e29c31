"""delivery: outbox channel leases, job slot claims, inbound dedupe, row versions

Revision ID: 0005_delivery
Revises: 0004_backup_chosen_by
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0005_delivery"
down_revision = "0004_backup_chosen_by"
branch_labels = None
depends_on = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", TEXT(length=260), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("in_flight", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("first_tried_at", UTCDateTime(), nullable=True))
    # Messages queued before this release: a DM's conversation is its person, an edit's
    # is the edited message's, a post's its channel.
    op.execute("UPDATE outbox SET channel = 'dm:' || target WHERE target_kind = 'direct'")
    op.execute("UPDATE outbox SET channel = target WHERE target_kind = 'channel'")
    op.execute("UPDATE outbox SET channel = COALESCE((SELECT o.channel FROM outbox o "
               "WHERE o.key = outbox.target), target) WHERE target_kind = 'update'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("channel", server_default=None)
        batch_op.alter_column("in_flight", server_default=None)
        batch_op.create_index("ix_outbox_channel_status_id", ["channel", "status", "id"],
                              unique=False)
    op.create_table(
        "outbox_channels",
        sa.Column("channel", TEXT(length=260), nullable=False),
        sa.Column("owner", TEXT(length=120), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("next_send_at", UTCDateTime(), nullable=True),
        sa.Column("last_served_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("channel"),
    )
    op.execute("INSERT INTO outbox_channels (channel) SELECT DISTINCT channel FROM outbox")
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", TEXT(length=60), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("owner", TEXT(length=120), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", TEXT(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "slot", name="uq_job_runs_job_slot"),
    )
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", TEXT(length=40), nullable=False),
        sa.Column("event_id", TEXT(length=200), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "event_id", name="uq_inbound_events_source_id"),
    )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_events_received_at", ["received_at"], unique=False)
    for table in ("coverages", "routing_switches"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                          server_default="0"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("version", server_default=None)


def downgrade() -> None:
    """Revert this revision."""
    for table in ("coverages", "routing_switches"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("version")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_events_received_at")
    op.drop_table("inbound_events")
    op.drop_table("job_runs")
    op.drop_table("outbox_channels")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_channel_status_id")
        batch_op.drop_column("first_tried_at")
        batch_op.drop_column("in_flight")
        batch_op.drop_column("channel")
