"""The Bolt app: built once per workspace (or once for OAuth installs), with the
dedupe middleware, the one global error handler, and every listener attached from one
table (each module's rows: commands, buttons, the leave form, events).

Each listener acks first and works after (see `listener`); errors become words for the
person in `replies`, and whatever else fails is logged here without personal data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from handlers.slack import actions, dedupe
from handlers.slack.chat import refusal
from handlers.slack.commands import Commands
from handlers.slack.directory import Directory
from handlers.slack.events import Events
from handlers.slack.leave import LeaveForm
from handlers.slack.listener import Kind, Later, Listener, reported

log = logging.getLogger(__name__)

# What reading a payload without the fields Slack always sends raises.
MALFORMED = (LookupError, TypeError, AttributeError, ValueError)


def build_slack_app(ctx: AppContext, *, token: str, signing_secret: str,
                    api_url: str) -> AsyncApp:
    """The Bolt app for one workspace (token mode), with every listener registered."""
    app = AsyncApp(signing_secret=signing_secret,
                   client=AsyncWebClient(token=token, base_url=api_url),
                   # Listeners ack within the request (no ack polling); slow work is lazy.
                   process_before_response=True,
                   # Every HTTP request reaches Bolt through `SlackDoor`, which checked
                   # the signature already (Socket Mode has none): a second HMAC and
                   # header parse per request would only cost ack time.
                   request_verification_enabled=False)
    register(app, ctx)
    return app


def listeners(ctx: AppContext) -> tuple[Listener, ...]:
    """The listener table: every command, button, form and event oscbot answers."""
    directory = Directory(ctx.config)
    later = Later(report=report)
    return (*Commands(ctx, directory=directory, later=later).listeners(),
            *LeaveForm(ctx, directory=directory, later=later).listeners(),
            *actions.listeners(ctx, directory=directory),
            *Events(ctx, directory=directory).listeners())


def register(app: AsyncApp, ctx: AppContext) -> None:
    """Attach the dedupe middleware, the error handler and every listener to `app`."""

    async def skip_event_retries(body: dict[str, Any], next: Any) -> BoltResponse | None:
        # Slack resends events it thinks were lost (X-Slack-Retry-Num), to any replica,
        # and a press can arrive twice: the database remembers which were handled, so
        # each is handled once. (Submissions are checked by their listener, after the
        # form's own checks, so a corrected form is not taken for a repeat.)
        event_id, source = body.get("event_id"), "slack"
        if not event_id:
            event_id, source = dedupe.action_id(body), dedupe.SOURCE
        if event_id and not await asyncio.to_thread(
                ctx.inbound.first_time, source=source, event_id=str(event_id)):
            return BoltResponse(status=200, body="")
        await next()
        return None

    app.middleware(skip_event_retries)
    app.error(on_error)
    for row in listeners(ctx):
        # Bolt's decorators take different keys (an action also takes a block/action
        # id pair), so the row's kind picks the decorator and the key goes as is.
        attach: Callable[..., Any] = {Kind.COMMAND: app.command, Kind.ACTION: app.action,
                                      Kind.VIEW: app.view, Kind.EVENT: app.event}[row.kind]
        attach(row.key)(ack=row.ack, lazy=[reported(lazy, report) for lazy in row.lazy])


async def on_error(error: Exception, response: BoltResponse | None) -> None:
    """The one error handler: log without personal data, and answer Slack so that it
    retries only what a retry can fix."""
    log.error("slack listener failed: %s", type(error).__name__)
    if response is None:
        return
    if isinstance(error, MALFORMED):
        # The payload lacked what Slack always sends: a retry cannot help, so 400.
        # Anything else (Slack or the database unreachable) stays a 500 Slack retries.
        response.status = 400
    elif isinstance(error, SlackApiError) and _refused_for_good(error):
        # Slack refused our answer for good (a channel we cannot post in, a missing
        # scope): the event itself was fine and its retry would be refused the same
        # way, so it is acknowledged.
        response.status, response.body = 200, ""


async def report(error: Exception) -> None:
    """A failure after the ack (a lazy listener, a late answer): the request was answered
    already, so it is only logged, as the error handler logs."""
    await on_error(error, None)
    if isinstance(error, SlackApiError):
        _refused_for_good(error)


def _refused_for_good(error: SlackApiError) -> bool:
    answer = error.response
    data = answer.data if isinstance(answer.data, dict) else {}
    method = str(answer.api_url).rsplit("/", 1)[-1]
    refused = refusal(method, answer.status_code, data, answer.headers)
    log.error("slack refused %s: %s", method, refused.code)
    return not refused.transient
