"""Bolt listeners: ack first, then one service call (off the event loop), then render.

Errors become words for the person in one place (`_explain`); one global error
handler logs the rest without personal data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from time import monotonic
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError
from bot.messages import ActionId, Message
from bot.model import LeadStatus
from handlers import commands
from handlers.actions import press
from handlers.slack import dedupe
from handlers.slack.blocks import action_pattern, render, reply_text
from handlers.slack.chat import refusal
from handlers.slack.directory import Directory
from handlers.slack.leave import register_leave
from handlers.slack.views import HOME_ROWS, home_view

log = logging.getLogger(__name__)
HELP = ("*oscbot* keeps leads covered while an OSC is away.\n"
        "• `/going-on-leave` — plan an absence (or an emergency starting now)\n"
        "• `/coverage` — who is out and who covers\n"
        "• `/im-back` — end your coverage now (managers: `/im-back for:EMAIL`)\n"
        "• `/handoff-drill [EMAIL]` — practice run; switches nothing\n"
        "• `/oscbot calendar [EMAIL]` — lead calendar (managers: anyone's)")


# What reading a payload without the fields Slack always sends raises.
MALFORMED = (LookupError, TypeError, AttributeError, ValueError)


# `/coverage` answers are reused this long per time zone: a burst of status checks
# (a team meeting, a busy morning) costs one read, and a change shows within a second.
STATUS_FRESH_FOR = 1.0


class RecentAnswers:
    """Answers by key, each reused for `fresh_for` seconds after it was computed."""

    def __init__(self, fresh_for: float, *, clock: Callable[[], float] = monotonic) -> None:
        self._fresh_for = fresh_for
        self._clock = clock
        self._answers: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The answer stored under `key` if still fresh."""
        stored = self._answers.get(key)
        if stored is None or self._clock() - stored[0] >= self._fresh_for:
            return None
        return stored[1]

    def put(self, key: str, answer: dict[str, Any]) -> None:
        """Store a freshly computed answer."""
        self._answers[key] = (self._clock(), answer)


def _explain(exc: OscbotError) -> str:
    if isinstance(exc, (NotAllowed, NotFound, InvalidInput)):
        return reply_text(f"Sorry — {exc}")
    return reply_text(f"That did not work: {exc}")


def _blocks(ctx: AppContext, message: Message) -> dict[str, Any]:
    names = {p.email: p.name for p in ctx.config.people}
    ids = {p.email: p.chat.slack for p in ctx.config.people if p.chat.slack}
    text, blocks = render(message, user_id_for=ids.get, name_for=lambda e: names.get(e, e))
    return {"text": text, "blocks": blocks}


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


def register(app: AsyncApp, ctx: AppContext) -> None:
    """Attach every command, action, view and event listener to `app`."""
    directory = Directory(ctx.config)

    @app.middleware
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

    @app.error
    async def on_error(error: Exception, response: BoltResponse | None) -> None:
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

    async def who(client: AsyncWebClient, user_id: str, ack: AsyncAck) -> str | None:
        email = await directory.email(client, user_id)
        if email is None:
            await ack(text=reply_text(directory.refusal(user_id)))
        return email

    async def answer(ack: AsyncAck, run: Callable[[], Message]) -> None:
        """Run one command off the event loop and ack with its message or our words."""
        try:
            message = await asyncio.to_thread(run)
        except OscbotError as exc:
            await ack(text=_explain(exc))
            return
        await ack(**_blocks(ctx, message))

    status_answers = RecentAnswers(STATUS_FRESH_FOR)

    @app.command("/coverage")
    async def coverage(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        email = await who(client, command["user_id"], ack)
        if email:
            zone = ctx.config.zone_of(email)
            answer = status_answers.get(zone)
            if answer is None:
                # One indexed read of open coverages: cheaper inline than a thread hop.
                answer = _blocks(ctx, commands.coverage_status(ctx, zone=zone))
                status_answers.put(zone, answer)
            await ack(**answer)

    @app.command("/im-back")
    async def im_back(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        email = await who(client, command["user_id"], ack)
        if email:
            text = await directory.expand(client, command.get("text") or "")
            await answer(ack, lambda: commands.im_back(ctx, actor=email, text=text))

    @app.command("/handoff-drill")
    async def drill(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        email = await who(client, command["user_id"], ack)
        if email:
            target = (await directory.expand(client, command.get("text") or "")).strip() or email
            await answer(ack, lambda: commands.drill(ctx, osc_email=target))

    @app.command("/oscbot")
    async def oscbot_command(ack: AsyncAck, command: dict[str, Any],
                             client: AsyncWebClient) -> None:
        words = (await directory.expand(client, command.get("text") or "")).split()
        if not words or words[0] != "calendar":
            await ack(text=HELP)
            return
        email = await who(client, command["user_id"], ack)
        if email:
            person = words[1] if len(words) > 1 else None
            await answer(ack, lambda: commands.lead_calendar(ctx, actor=email, person=person))

    register_leave(app, ctx, directory=directory, who=who, blocks=_blocks, dm=_dm)

    async def ack_button(ack: AsyncAck) -> None:
        await ack()

    for action in ActionId:
        app.action(action_pattern(action))(ack=ack_button,
                                            lazy=[_button(ctx, directory, action)])

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        email = await directory.email(client, event["user"])
        if email is None:
            return
        view = await asyncio.to_thread(app_home, ctx, email)
        await client.views_publish(user_id=event["user"], view=view)

    @app.event("app_mention")
    async def mention(event: dict[str, Any], say: Any) -> None:
        await say(text=HELP, thread_ts=event.get("ts"))


def _button(ctx: AppContext, directory: Directory, action: ActionId) -> Any:
    async def pressed(body: dict[str, Any], client: AsyncWebClient) -> None:
        user = body["user"]["id"]
        email = await directory.email(client, user)
        value = body["actions"][0].get("value", "")
        if email is None:
            reply = directory.refusal(user)
        else:
            reply = await asyncio.to_thread(press, ctx, action=action, value=value, actor=email)
            await asyncio.to_thread(ctx.delivery.deliver_due, ctx.clock.now())
        channel = (body.get("channel") or {}).get("id")
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user, text=reply_text(reply))
        else:
            # Pressed in the App Home: no channel to whisper in, so the reply goes by DM.
            await _dm(client, user, text=reply_text(reply))

    return pressed


def _refused_for_good(error: SlackApiError) -> bool:
    answer = error.response
    data = answer.data if isinstance(answer.data, dict) else {}
    method = str(answer.api_url).rsplit("/", 1)[-1]
    refused = refusal(method, answer.status_code, data, answer.headers)
    log.error("slack refused %s: %s", method, refused.code)
    return not refused.transient


async def _dm(client: AsyncWebClient, user: str, **message: Any) -> None:
    """Post into the DM with a user (Slack wants the conversation's id, not the user's)."""
    opened = await client.conversations_open(users=user)
    await client.chat_postMessage(channel=opened["channel"]["id"], **message)


def app_home(ctx: AppContext, email: str) -> dict[str, Any]:
    """The App Home view for a person: a fixed number of reads whatever the history's size
    (the leads and tasks it lists, with counts for the rest, and the open coverages)."""
    manager = ctx.config.is_manager(email)
    mine = None if manager else email
    leads = ctx.leads.lead_page(assigned_to=mine, status=LeadStatus.NEW, limit=HOME_ROWS)
    tasks = ctx.leads.task_page(assignee_email=mine, limit=HOME_ROWS)
    return home_view(config=ctx.config, email=email, now=ctx.clock.now(),
                     coverages=ctx.coverage.open_coverages(), leads=leads, tasks=tasks)
