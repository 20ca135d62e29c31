"""record moves: CRM leads and tasks handed to a backup

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "record_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=False),
        sa.Column("osc_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("crm", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("before", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("after", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["coverage_id"], ["coverages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coverage_id", "crm", "kind", "record_id",
                            name="uq_record_moves_coverage_record"),
    )
    with op.batch_alter_table("record_moves", schema=None) as batch_op:
        batch_op.create_index("ix_record_moves_osc_crm_status",
                              ["osc_email", "crm", "status"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("record_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_record_moves_osc_crm_status")
    op.drop_table("record_moves")
