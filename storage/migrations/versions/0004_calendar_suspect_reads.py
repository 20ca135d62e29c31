"""calendar suspect reads: the last good event count and since when a read looks wrong

Revision ID: 0003_calendar_suspect_reads
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0003_calendar_suspect_reads"
down_revision = "0003_activity_external_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("calendar_sync_state") as batch:
        batch.add_column(sa.Column("event_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("suspect_since", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("calendar_sync_state") as batch:
        batch.drop_column("suspect_since")
        batch.drop_column("event_count")
