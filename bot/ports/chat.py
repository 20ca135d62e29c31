"""Chat ports: a chat platform to post, DM, find and edit messages through, and the
stored references a platform needs to reach a conversation later.

Teams cannot post to a channel or a person out of the blue: the bot needs the
conversation id and the service URL it learned when it was installed (or when it
opened a 1:1 chat). `ConversationRefRepository` keeps them; adapters fill and read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.messages import Message


@dataclass(frozen=True)
class MessageRef:
    """Where a sent message lives, so it can be edited later."""

    channel: str
    id: str


class ChatPort(Protocol):
    """A chat platform: post to channels, DM people, edit what was posted.

    `key` is the outbox key of the message. A platform stores it with the message
    (Slack: message metadata) so that `find_sent` can tell, after a timeout or a crash
    mid-send, whether the message already arrived: the outbox never sends twice.
    """

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """Post `message` in a channel, tagged with the outbox `key`."""
        ...

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """Send `message` privately to the person with this email, tagged with `key`."""
        ...

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """The message tagged `key` sent since `since` to the channel (or DM to `email`).

        None when it is not there. Raises ChatError when the platform cannot be asked.
        """
        ...

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """Replace the content of an earlier message."""
        ...

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """Share a file (a chart) in a channel."""
        ...


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
