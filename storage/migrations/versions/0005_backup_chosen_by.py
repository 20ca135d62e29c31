"""backup chosen by: who picked a coverage's backup by hand

Revision ID: 0004_backup_chosen_by
Revises: 0003_calendar_suspect_reads
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_backup_chosen_by"
down_revision = "0003_calendar_suspect_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("coverages", sa.Column(
        "backup_chosen_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    op.drop_column("coverages", "backup_chosen_by")
