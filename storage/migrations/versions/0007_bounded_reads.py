"""bounded reads: indexes for paged screens, tasks remember their reminder

Revision ID: 0006_bounded_reads
Revises: 0005_delivery
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0006_bounded_reads"
down_revision = "0005_delivery"
branch_labels = None
depends_on = None

# Each index serves one paged read: the newest rows walk it backwards and stop, and
# the count reads only its entries.
_INDEXES = (
    ("ix_leads_assigned_status_received", "leads", ["assigned_to", "status", "received_at"]),
    ("ix_leads_owner_status_received", "leads", ["owner_email", "status", "received_at"]),
    ("ix_leads_owner_rating_received", "leads", ["owner_email", "rating", "received_at"]),
    ("ix_activities_by_at", "activities", ["by_email", "at"]),
    ("ix_appointments_at", "appointments", ["at"]),
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_for", UTCDateTime(), nullable=True))
    op.drop_index("ix_leads_assigned_status", table_name="leads")
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    """Revert this revision."""
    for name, table, _ in _INDEXES:
        op.drop_index(name, table_name=table)
    op.create_index("ix_leads_assigned_status", "leads", ["assigned_to", "status"],
                    unique=False)
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("reminded_for")
