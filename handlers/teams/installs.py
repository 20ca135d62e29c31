"""oscbot added to a team or a chat (`conversationUpdate`, `installationUpdate` add):
remember where the conversation is and say hello in a channel."""

from __future__ import annotations

import asyncio
from typing import Any

from microsoft_teams.apps import ActivityContext

from bot.messages import Message, Section
from bot.ports.chat import ConversationKind
from handlers.teams.turns import Turns, raw


class Installs:
    """Answers the app being added, by either activity Teams may send for it."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns

    async def on_conversation_update(self, ctx: ActivityContext[Any]) -> None:
        """The app added to a team (or a chat): remember it and say hello in the channel."""
        activity = raw(ctx)
        if not await self.turns.new_activity(activity):
            return
        bot = (activity.get("recipient") or {}).get("id")
        if any(m.get("id") == bot for m in activity.get("membersAdded") or []):
            await self._installed(activity)

    async def on_install(self, ctx: ActivityContext[Any]) -> None:
        """installationUpdate add: same as being added to the conversation."""
        activity = raw(ctx)
        if await self.turns.new_activity(activity):
            await self._installed(activity)

    async def _installed(self, activity: dict[str, Any]) -> None:
        turns = self.turns
        email = await turns.actor(activity)
        ref = await asyncio.to_thread(turns.remember, activity, email)
        if ref is not None and ref.kind is ConversationKind.CHANNEL:
            text = ("oscbot is installed here: briefs, lead alerts and escalations for "
                    f"{turns.ctx.config.team.name} will be posted in this channel. "
                    "Mention @oscbot help to see what it can do.")
            turns.ctx.notifier.post(key=f"teams-installed:{ref.conversation_id}",
                                    message=Message(text=text, blocks=(Section(text),)),
                                    channel=ref.conversation_id)
            turns.kick()
