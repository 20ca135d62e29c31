"""The audit log in SQL: append-only, who did what, when and why."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from bot.model import AuditEntry
from storage import rows
from storage.tables import (
    AuditRow,
)


class SqlAudit:
    """AuditLog on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, entry: AuditEntry) -> None:
        """Append an entry."""
        # A core insert: every lead and coverage change writes one, inside its unit.
        rows.insert_values(self._engine, AuditRow, {
            "at": entry.at, "actor": entry.actor, "action": entry.action,
            "subject": entry.subject, "reason": entry.reason, "before": entry.before,
            "after": entry.after})

    def list(self, *, subject: str | None = None) -> list[AuditEntry]:
        """Entries, oldest first."""
        query = select(AuditRow)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        with rows.unit(self._engine) as session:
            return [AuditEntry(at=r.at, actor=r.actor, action=r.action, subject=r.subject,
                               reason=r.reason, before=r.before, after=r.after)
                    for r in session.exec(query.order_by(col(AuditRow.id)))]
