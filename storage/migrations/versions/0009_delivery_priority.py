"""delivery: message priority (speed to lead first) and rate-limit pauses shared by replicas

Revision ID: 0007_delivery_priority
Revises: 0006_teams_conversations
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0007_delivery_priority"
down_revision = "0006_teams_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False,
                                      server_default="0"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("priority", server_default=None)
    op.create_table(
        "delivery_pauses",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("delivery_pauses")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("priority")
