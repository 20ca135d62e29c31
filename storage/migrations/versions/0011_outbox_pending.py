"""outbox pending index: claims step through conversations with pending messages only

Revision ID: 0009_outbox_pending
Revises: 0008_work_items
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_outbox_pending"
down_revision = "0008_work_items"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_outbox_pending", "outbox", ["channel", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_outbox_pending", table_name="outbox")
