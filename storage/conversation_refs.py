"""SQL repository for chat conversation references."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.ports.chat import ConversationKind, ConversationRef
from storage import rows
from storage.tables import ConversationRefRow


def _ref(row: ConversationRefRow) -> ConversationRef:
    return ConversationRef(
        conversation_id=row.conversation_id, service_url=row.service_url,
        tenant_id=row.tenant_id, kind=ConversationKind(row.kind), team_id=row.team_id,
        aad_object_id=row.aad_object_id, user_id=row.user_id, email=row.email, name=row.name,
        updated_at=row.updated_at)


def _values(ref: ConversationRef) -> dict[str, Any]:
    return {"service_url": ref.service_url, "tenant_id": ref.tenant_id,
            "kind": ref.kind.value, "team_id": ref.team_id, "aad_object_id": ref.aad_object_id,
            "user_id": ref.user_id, "email": ref.email.lower() if ref.email else None,
            "name": ref.name[:200], "updated_at": ref.updated_at}


class SqlConversationRefs:
    """ConversationRefRepository on SQL; one row per conversation id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, ref: ConversationRef) -> ConversationRef:
        """Insert or replace the reference with this conversation id."""
        with Session(self._engine, expire_on_commit=False) as session:
            row = session.get(ConversationRefRow, ref.conversation_id)
            if row is None:
                row = ConversationRefRow(conversation_id=ref.conversation_id, **_values(ref))
                session.add(row)
            else:
                row.sqlmodel_update(_values(ref))
            session.commit()
            return _ref(row)

    def get(self, conversation_id: str) -> ConversationRef | None:
        """One reference, or None."""
        return rows.select_one(self._engine, select(ConversationRefRow).where(
            ConversationRefRow.conversation_id == conversation_id), _ref)

    def personal(self, email: str) -> ConversationRef | None:
        """The newest 1:1 chat with the person with this email, or None."""
        return rows.select_one(self._engine, select(ConversationRefRow).where(
            ConversationRefRow.kind == ConversationKind.PERSONAL.value,
            ConversationRefRow.email == email.lower()).order_by(
            col(ConversationRefRow.updated_at).desc()), _ref)

    def channels(self) -> list[ConversationRef]:
        """Every channel reference, the most recently updated first."""
        return rows.select_all(self._engine, select(ConversationRefRow).where(
            ConversationRefRow.kind == ConversationKind.CHANNEL.value).order_by(
            col(ConversationRefRow.updated_at).desc()), _ref)
