"""SQL repository for CRM record moves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from bot.ports.routing import MoveStatus, RecordKind, RecordMove
from storage import rows
from storage.tables import RecordMoveRow


def _move(row: RecordMoveRow) -> RecordMove:
    return RecordMove(id=row.id, coverage_id=row.coverage_id, osc_email=row.osc_email,
                      crm=row.crm, kind=RecordKind(row.kind), record_id=row.record_id,
                      before=row.before, after=row.after, status=MoveStatus(row.status),
                      at=row.at, note=row.note)


def _values(move: RecordMove) -> dict[str, Any]:
    return {"coverage_id": move.coverage_id, "osc_email": move.osc_email, "crm": move.crm,
            "kind": move.kind.value, "record_id": move.record_id, "before": move.before,
            "after": move.after, "status": move.status.value, "at": move.at,
            "note": move.note}


class SqlRecordMoves:
    """RecordMoveRepository on SQL; unique on (coverage_id, crm, kind, record_id)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, move: RecordMove) -> tuple[RecordMove, bool]:
        """Store unless this coverage already moved this record; (move, created)."""
        def existing() -> RecordMove | None:
            return rows.select_one(self._engine, select(RecordMoveRow).where(
                RecordMoveRow.coverage_id == move.coverage_id, RecordMoveRow.crm == move.crm,
                RecordMoveRow.kind == move.kind.value,
                RecordMoveRow.record_id == move.record_id), _move)

        found = existing()
        if found is not None:
            return found, False
        return rows.insert_unique(self._engine, RecordMoveRow(**_values(move)), _move,
                                  existing)

    def save(self, move: RecordMove) -> RecordMove:
        """Update a stored move."""
        return rows.update(self._engine, RecordMoveRow, move.id, _values(move), _move,
                           what="record move")

    def list(self, *, coverage_id: int | None = None, osc_email: str | None = None,
             crm: str | None = None,
             statuses: Sequence[MoveStatus] | None = None) -> list[RecordMove]:
        """Moves matching every given filter, oldest first."""
        query = select(RecordMoveRow)
        if coverage_id is not None:
            query = query.where(RecordMoveRow.coverage_id == coverage_id)
        if osc_email is not None:
            query = query.where(RecordMoveRow.osc_email == osc_email)
        if crm is not None:
            query = query.where(RecordMoveRow.crm == crm)
        if statuses is not None:
            query = query.where(col(RecordMoveRow.status).in_([s.value for s in statuses]))
        return rows.select_all(self._engine, query.order_by(col(RecordMoveRow.id)), _move)
