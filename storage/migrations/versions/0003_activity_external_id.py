"""activity external id: a repeated contact webhook is stored once

Revision ID: 0003_activity_external_id
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003_activity_external_id"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200),
                                   nullable=True))
    op.create_index("uq_activities_lead_external", "activities", ["lead_id", "external_id"],
                    unique=True)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_activities_lead_external", table_name="activities")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("external_id")
