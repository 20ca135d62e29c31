"""What every Teams listener needs around one activity (a "turn" in Bot Framework terms):
the activity as Teams sent it, who is acting, where the conversation can be reached
later, whether any replica handled the activity already, and delivering what it queued.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from microsoft_teams.apps import ActivityContext

from bot.context import AppContext
from bot.ports.chat import ConversationKind, ConversationRef
from handlers.teams.chat import TeamsChat
from handlers.teams.endpoint import TeamsSettings, tenant_of


def raw(ctx: ActivityContext[Any]) -> dict[str, Any]:
    """The activity as Teams sent it (wire names), for the few fields we read."""
    activity: dict[str, Any] = ctx.activity.model_dump(by_alias=True, exclude_none=True)
    return activity


def activity_key(activity: dict[str, Any]) -> str:
    """The inbound dedupe id of an activity: its id within its conversation."""
    conversation = str((activity.get("conversation") or {}).get("id") or "")
    digest = hashlib.sha256(conversation.encode()).hexdigest()[:16]
    return f"activity:{digest}:{str(activity.get('id'))[:150]}"


class Turns:
    """The services and helpers shared by the Teams listeners of one mounted app."""

    def __init__(self, ctx: AppContext, *, chat: TeamsChat, settings: TeamsSettings) -> None:
        self.ctx = ctx
        self.chat = chat
        self.settings = settings
        # Kicks run in the background; the set keeps them alive until they finish.
        self._tasks: set[asyncio.Task[None]] = set()

    async def actor(self, activity: dict[str, Any]) -> str | None:
        """The team email of whoever sent the activity, or None when not on the team."""
        aad = str((activity.get("from") or {}).get("aadObjectId") or "")
        if not aad:
            return None
        email = await asyncio.to_thread(self.chat.email_of, aad)
        return email if email and self.ctx.config.find_person(email) else None

    def remember(self, activity: dict[str, Any], email: str | None) -> ConversationRef | None:
        """Store where this conversation can be reached later."""
        conversation = activity.get("conversation") or {}
        kind_name = conversation.get("conversationType") or "personal"
        try:
            kind = ConversationKind(kind_name)
        except ValueError:
            return None
        sender = activity.get("from") or {}
        team = (activity.get("channelData") or {}).get("team") or {}
        personal = kind is ConversationKind.PERSONAL
        if personal and email is None:
            return None
        return self.chat.refs.save(ConversationRef(
            conversation_id=str(conversation.get("id")),
            service_url=str(activity.get("serviceUrl") or self.settings.service_url),
            tenant_id=tenant_of(activity), kind=kind, team_id=team.get("id"),
            aad_object_id=sender.get("aadObjectId") if personal else None,
            user_id=sender.get("id") if personal else None, email=email if personal else None,
            name=str(team.get("name") or sender.get("name") or "")[:200],
            updated_at=self.ctx.clock.now()))

    def kick(self) -> None:
        """Deliver what a listener queued now, without holding up the answer."""
        task = asyncio.create_task(asyncio.to_thread(self.ctx.delivery.kick))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def first_time(self, event_id: str) -> bool:
        """Whether no replica has handled this event yet (the database decides, once)."""
        return await asyncio.to_thread(self.ctx.inbound.first_time, source="teams",
                                       event_id=event_id)

    async def new_activity(self, activity: dict[str, Any]) -> bool:
        """False for an activity Teams delivered again (to this replica or another)."""
        if not activity.get("id"):
            return True
        return await self.first_time(activity_key(activity))
