"""Events from Slack, one listener each, acked at once (Slack resends an event it waited
3 seconds for): the App Home drawn for whoever opens it, and the help for a mention."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.context.say.async_say import AsyncSay
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.model import LeadStatus
from handlers.slack.directory import Directory
from handlers.slack.listener import Kind, Listener, ack_now
from handlers.slack.replies import HELP
from handlers.slack.views import HOME_ROWS, home_view


class Events:
    """`app_home_opened` and `app_mention`."""

    def __init__(self, ctx: AppContext, *, directory: Directory) -> None:
        self._ctx = ctx
        self._directory = directory

    def listeners(self) -> tuple[Listener, ...]:
        """The events' rows of the listener table."""
        return (
            Listener(Kind.EVENT, "app_home_opened", ack=ack_now, lazy=(self.home_opened,)),
            Listener(Kind.EVENT, "app_mention", ack=ack_now, lazy=(self.mentioned,)),
        )

    async def home_opened(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        """After the ack: publish the App Home of a team member who opened it."""
        email = await self._directory.email(client, event["user"])
        if email is None:
            return
        view = await asyncio.to_thread(app_home, self._ctx, email)
        await client.views_publish(user_id=event["user"], view=view)

    async def mentioned(self, event: dict[str, Any], say: AsyncSay) -> None:
        """After the ack: answer a mention with the help, in its thread."""
        await say(text=HELP, thread_ts=event.get("ts"))


def app_home(ctx: AppContext, email: str) -> dict[str, Any]:
    """The App Home view for a person: a fixed number of reads whatever the history's size
    (the leads and tasks it lists, with counts for the rest, and the open coverages)."""
    manager = ctx.config.is_manager(email)
    mine = None if manager else email
    leads = ctx.leads.lead_page(assigned_to=mine, status=LeadStatus.NEW, limit=HOME_ROWS)
    tasks = ctx.leads.task_page(assignee_email=mine, limit=HOME_ROWS)
    return home_view(config=ctx.config, email=email, now=ctx.clock.now(),
                     coverages=ctx.coverage.open_coverages(), leads=leads, tasks=tasks)
