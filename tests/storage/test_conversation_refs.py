"""The conversation reference repository, the same on every backend."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from bot.fakes.chat import InMemoryConversationRefs
from bot.ports.chat import ConversationKind, ConversationRef, ConversationRefRepository
from bot.ports.repositories import Repositories
from storage.conversation_refs import SqlConversationRefs

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def refs_for(backend: tuple[str, Repositories, Engine | None]) -> ConversationRefRepository:
    engine = backend[2]
    if engine is None:
        return InMemoryConversationRefs()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE conversation_refs"))
    return SqlConversationRefs(engine)


def test_references_are_stored_replaced_and_found(
        backend: tuple[str, Repositories, Engine | None]) -> None:
    refs = refs_for(backend)
    old = ConversationRef(conversation_id="19:general@thread.tacv2", service_url="https://a",
                          tenant_id="t1", kind=ConversationKind.CHANNEL,
                          team_id="19:general@thread.tacv2", name="Sales",
                          updated_at=NOW - timedelta(days=1))
    newer = dataclasses.replace(old, conversation_id="19:other@thread.tacv2", updated_at=NOW)
    chat = ConversationRef(conversation_id="a:1xyz", service_url="https://a", tenant_id="t1",
                           kind=ConversationKind.PERSONAL, aad_object_id="aad-1",
                           user_id="29:1", email="jordan@rh.example", updated_at=NOW)
    for ref in (old, newer, chat):
        refs.save(ref)
    assert [r.conversation_id for r in refs.channels()] == [newer.conversation_id,
                                                            old.conversation_id]
    assert refs.personal("Jordan@RH.example") == chat
    assert refs.personal("sam@rh.example") is None
    moved = dataclasses.replace(old, service_url="https://b", updated_at=NOW + timedelta(1))
    refs.save(moved)
    assert refs.get(old.conversation_id) == moved
    assert refs.channels()[0] == moved
    assert refs.get("19:missing") is None
