"""A chat port that records a transcript instead of talking to a platform, and stored
conversation references in memory.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

from bot.messages import Message, plain
from bot.ports.chat import ConversationKind, ConversationRef, MessageRef
from bot.ports.clock import Clock

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


@dataclasses.dataclass(frozen=True)
class SentMessage:
    """One message a RecordingChat received."""

    kind: str
    target: str
    message: Message
    ref: MessageRef
    key: str | None = None
    at: datetime | None = None


class RecordingChat:
    """A chat port that records a transcript instead of talking to a platform.

    With a `clock`, each message remembers when it arrived, so `find_sent` honours
    `since` as a platform's history would.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.transcript: list[SentMessage] = []
        self.uploads: list[tuple[str, str, bytes]] = []
        self._counter = 0
        self._clock = clock

    def _record(self, kind: str, target: str, message: Message, ref: MessageRef,
                key: str | None = None) -> MessageRef:
        at = self._clock.now() if self._clock else None
        self.transcript.append(SentMessage(kind, target, message, ref, key, at))
        return ref

    def _next_ref(self, channel: str) -> MessageRef:
        self._counter += 1
        return MessageRef(channel=channel, id=str(self._counter))

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """Record a channel post."""
        return self._record("channel", channel, message, self._next_ref(channel), key)

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """Record a DM."""
        return self._record("direct", email, message, self._next_ref(f"dm:{email}"), key)

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """The recorded message with this key to this channel or person since `since`."""
        target = channel if channel is not None else email
        for sent in reversed(self.transcript):
            if (sent.key == key and sent.target == target
                    and (sent.at is None or sent.at >= since)):
                return sent.ref
        return None

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """Record an edit."""
        self._record("update", ref.channel, message, ref)

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """Record a file upload (its title as the text, its size in the file name)."""
        ref = self._next_ref(channel)
        self.uploads.append((channel, filename, content))
        return self._record("upload", channel, Message(text=title), ref)

    def texts(self, kind: str | None = None) -> list[str]:
        """Fallback texts of recorded messages as a reader sees them, optionally of one kind."""
        return [plain(m.message.text) for m in self.transcript if kind is None or m.kind == kind]
