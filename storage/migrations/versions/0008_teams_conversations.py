"""conversation references: where Teams channels and 1:1 chats can be reached

Revision ID: 0006_teams_conversations
Revises: 0006_bounded_reads
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0006_teams_conversations"
down_revision = "0006_bounded_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "conversation_refs",
        sa.Column("conversation_id", text(length=400), nullable=False),
        sa.Column("service_url", text(length=400), nullable=False),
        sa.Column("tenant_id", text(length=64), nullable=False),
        sa.Column("kind", text(length=20), nullable=False),
        sa.Column("team_id", text(length=400), nullable=True),
        sa.Column("aad_object_id", text(length=64), nullable=True),
        sa.Column("user_id", text(length=400), nullable=True),
        sa.Column("email", text(length=254), nullable=True),
        sa.Column("name", text(length=200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    with op.batch_alter_table("conversation_refs", schema=None) as batch_op:
        batch_op.create_index("ix_conversation_refs_kind_email", ["kind", "email"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("conversation_refs", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_refs_kind_email")
    op.drop_table("conversation_refs")
