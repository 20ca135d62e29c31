"""Buttons on oscbot's messages and App Home, one listener per action id: acked at once,
then the press is carried out and the person told how it went."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.messages import ActionId
from handlers.actions import press
from handlers.slack.blocks import action_pattern, reply_text
from handlers.slack.directory import Directory
from handlers.slack.listener import Kind, Listener, ack_now
from handlers.slack.replies import dm


class Button:
    """One action id's presses."""

    def __init__(self, ctx: AppContext, *, directory: Directory, action: ActionId) -> None:
        self._ctx = ctx
        self._directory = directory
        self._action = action

    async def pressed(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """After the ack: carry out the press, send what it caused, whisper the outcome."""
        user = body["user"]["id"]
        email = await self._directory.email(client, user)
        value = body["actions"][0].get("value", "")
        if email is None:
            reply = self._directory.refusal(user)
        else:
            reply = await asyncio.to_thread(press, self._ctx, action=self._action,
                                            value=value, actor=email)
            await asyncio.to_thread(self._ctx.delivery.deliver_due, self._ctx.clock.now())
        channel = (body.get("channel") or {}).get("id")
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user, text=reply_text(reply))
        else:
            # Pressed in the App Home: no channel to whisper in, so the reply goes by DM.
            await dm(client, user, text=reply_text(reply))


def listeners(ctx: AppContext, *, directory: Directory) -> tuple[Listener, ...]:
    """One row of the listener table per action id (each matches its numbered copies)."""
    return tuple(Listener(Kind.ACTION, action_pattern(action), ack=ack_now,
                          lazy=(Button(ctx, directory=directory, action=action).pressed,))
                 for action in ActionId)
