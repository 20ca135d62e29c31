"""Where a chat platform can reach a conversation later: stored references.

Teams cannot post to a channel or a person out of the blue: the bot needs the
conversation id and the service URL it learned when it was installed (or when it
opened a 1:1 chat). This port keeps them; adapters fill and read it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ConversationKind(StrEnum):
    """What kind of conversation a reference points at."""

    CHANNEL = "channel"
    PERSONAL = "personal"
    GROUP = "groupChat"


@dataclass(frozen=True)
class ConversationRef:
    """A conversation the bot may post into."""

    conversation_id: str
    service_url: str
    tenant_id: str
    kind: ConversationKind
    team_id: str | None = None
    aad_object_id: str | None = None
    user_id: str | None = None
    email: str | None = None
    name: str = ""
    updated_at: datetime | None = None


class ConversationRefRepository(Protocol):
    """Stored conversation references, unique on conversation id."""

    def save(self, ref: ConversationRef) -> ConversationRef:
        """Insert or replace the reference with this conversation id."""
        ...

    def get(self, conversation_id: str) -> ConversationRef | None:
        """One reference, or None."""
        ...

    def personal(self, email: str) -> ConversationRef | None:
        """The 1:1 chat with the person with this email, or None."""
        ...

    def channels(self) -> list[ConversationRef]:
        """Every channel reference, the most recently updated first."""
        ...


class InMemoryConversationRefs:
    """ConversationRefRepository in a dict, for tests and the console."""

    def __init__(self) -> None:
        self._refs: dict[str, ConversationRef] = {}
        self._lock = threading.Lock()

    def save(self, ref: ConversationRef) -> ConversationRef:
        """Insert or replace."""
        with self._lock:
            self._refs[ref.conversation_id] = ref
        return ref

    def get(self, conversation_id: str) -> ConversationRef | None:
        """One reference, or None."""
        return self._refs.get(conversation_id)

    def personal(self, email: str) -> ConversationRef | None:
        """The 1:1 chat with this person, or None."""
        wanted = email.lower()
        return next((r for r in self._refs.values() if r.kind is ConversationKind.PERSONAL
                     and (r.email or "").lower() == wanted), None)

    def channels(self) -> list[ConversationRef]:
        """Channel references, newest first."""
        found = [r for r in self._refs.values() if r.kind is ConversationKind.CHANNEL]
        return sorted(found, key=lambda r: r.updated_at or _EPOCH, reverse=True)
