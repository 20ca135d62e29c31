"""Bolt listeners: ack first, then one service call (off the event loop), then render.

Errors become words for the person in one place (`_explain`); one global error
handler logs the rest without personal data.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError
from bot.messages import ActionId, Message
from bot.model import AbsenceKind, LeadStatus, TaskStatus
from handlers import commands
from handlers.actions import press
from handlers.context import AppContext
from handlers.slack.blocks import render
from handlers.slack.views import (
    HOME_ROWS,
    LEAVE_CALLBACK,
    home_view,
    leave_modal,
    submitted_values,
)

log = logging.getLogger(__name__)
HELP = ("*oscbot* keeps leads covered while an OSC is away.\n"
        "• `/going-on-leave` — plan an absence (or an emergency starting now)\n"
        "• `/coverage` — who is out and who covers\n"
        "• `/im-back` — end your coverage now (managers: `/im-back for:EMAIL`)\n"
        "• `/handoff-drill [EMAIL]` — practice run; switches nothing\n"
        "• `/oscbot calendar [EMAIL]` — lead calendar (managers: anyone's)")


# What reading a payload without the fields Slack always sends raises.
MALFORMED = (LookupError, TypeError, AttributeError, ValueError)


class Directory:
    """Slack user ids to team emails: app.yaml ids first, then users.info (cached)."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx
        self._emails: OrderedDict[str, str | None] = OrderedDict(
            (p.chat.slack, p.email) for p in ctx.config.people if p.chat.slack)

    async def email(self, client: AsyncWebClient, user_id: str) -> str | None:
        """The team email of a Slack user, or None when they are not on the team."""
        if user_id not in self._emails:
            try:
                answer = await client.users_info(user=user_id)
            except SlackApiError as exc:
                if exc.response.get("error") not in ("user_not_found", "user_not_visible"):
                    raise
                # Not a user we can see, so not on the team; not an error of ours.
                return None
            profile = (answer.get("user") or {}).get("profile") or {}
            self._emails[user_id] = str(profile.get("email", "")).lower() or None
        email = self._emails[user_id]
        return email if email and self._ctx.config.find_person(email) else None


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
        return f"Sorry — {exc}"
    return f"That did not work: {exc}"


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
                   process_before_response=True)
    register(app, ctx)
    return app


def register(app: AsyncApp, ctx: AppContext) -> None:
    """Attach every command, action, view and event listener to `app`."""
    directory = Directory(ctx)
    seen_events: OrderedDict[str, None] = OrderedDict()

    @app.middleware
    async def skip_event_retries(body: dict[str, Any], next: Any) -> BoltResponse | None:
        # Slack resends events it thinks were lost (X-Slack-Retry-Num); handle each once.
        event_id = body.get("event_id")
        if event_id:
            if event_id in seen_events:
                return BoltResponse(status=200, body="")
            seen_events[event_id] = None
            while len(seen_events) > 10_000:
                seen_events.popitem(last=False)
        await next()
        return None

    @app.error
    async def on_error(error: Exception, response: BoltResponse | None) -> None:
        log.error("slack listener failed: %s", type(error).__name__)
        if response is not None and isinstance(error, MALFORMED):
            # The payload lacked what Slack always sends: a retry cannot help, so 400.
            # Anything else (Slack or the database unreachable) stays a 500 Slack retries.
            response.status = 400

    async def who(client: AsyncWebClient, user_id: str, ack: AsyncAck) -> str | None:
        email = await directory.email(client, user_id)
        if email is None:
            await ack(text="Sorry — your Slack account is not on the team in app.yaml "
                           "(ask your admin to add your email).")
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
            await answer(ack, lambda: commands.im_back(ctx, actor=email,
                                                       text=command.get("text", "")))

    @app.command("/handoff-drill")
    async def drill(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        email = await who(client, command["user_id"], ack)
        if email:
            target = (command.get("text") or "").strip() or email
            await answer(ack, lambda: commands.drill(ctx, osc_email=target))

    @app.command("/oscbot")
    async def oscbot_command(ack: AsyncAck, command: dict[str, Any],
                             client: AsyncWebClient) -> None:
        words = (command.get("text") or "").split()
        if not words or words[0] != "calendar":
            await ack(text=HELP)
            return
        email = await who(client, command["user_id"], ack)
        if email:
            person = words[1] if len(words) > 1 else None
            await answer(ack, lambda: commands.lead_calendar(ctx, actor=email, person=person))

    @app.command("/going-on-leave")
    async def going_on_leave(ack: AsyncAck, command: dict[str, Any],
                             client: AsyncWebClient) -> None:
        email = await who(client, command["user_id"], ack)
        if not email:
            return
        person = ctx.config.person(email)
        if person.role.value != "osc" and not ctx.config.is_manager(email):
            await ack(text="Sorry — only OSCs (or a manager for them) declare leave.")
            return
        await ack()
        osc = email if person.role.value == "osc" else ctx.config.oscs[0].email
        now = ctx.clock.now()
        today = now.astimezone(ZoneInfo(ctx.config.zone_of(email))).date()
        choice = await asyncio.to_thread(ctx.coverage.choose, osc_email=osc, start=now,
                                         end=now)
        skipped = {s.email: s.reason for s in choice.skipped}
        eligibility = {b: skipped.get(b) for b in ctx.config.person(osc).backups}
        await client.views_open(trigger_id=command["trigger_id"], view=leave_modal(
            config=ctx.config, actor=email, osc=osc, today=today, eligibility=eligibility))

    @app.view(LEAVE_CALLBACK)
    async def leave_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                              client: AsyncWebClient) -> None:
        email = await directory.email(client, body["user"]["id"])
        values = submitted_values(view)
        errors = _leave_errors(values)
        if email is None:
            errors["start"] = "Your Slack account is not on the team in app.yaml."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        assert email is not None
        zone = ZoneInfo(ctx.config.zone_of(email))
        first = date.fromisoformat(values["start"] or "")
        last = date.fromisoformat(values["end"] or "")
        start = datetime.combine(first, time(0), tzinfo=zone)
        end = datetime.combine(last, time(0), tzinfo=zone) + timedelta(days=1)
        backup = values.get("backup") if values.get("backup") not in (None, "none") else None
        try:
            coverage = await asyncio.to_thread(
                ctx.coverage.declare, osc_email=values.get("osc") or view["private_metadata"],
                start=start, end=end, kind=AbsenceKind(values["kind"] or "vacation"),
                actor=email, backup_email=backup, notes=values.get("notes") or "",
                emergency="now" in (values.get("emergency") or ""))
        except (InvalidInput, NotAllowed, NotFound) as exc:
            field = getattr(exc, "field", None)
            block = {"backup": "backup", "end": "end", "start": "start"}.get(field or "",
                                                                             "start")
            await ack(response_action="errors", errors={block: str(exc)[:150]})
            return
        await ack()
        confirmation = commands.confirmation(ctx, coverage, zone=ctx.config.zone_of(email))
        await client.chat_postMessage(channel=body["user"]["id"], **_blocks(ctx, confirmation))

    async def ack_button(ack: AsyncAck) -> None:
        await ack()

    for action in ActionId:
        app.action(action.value)(ack=ack_button, lazy=[_button(ctx, directory, action)])

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
            reply = "Sorry — your Slack account is not on the team in app.yaml."
        else:
            reply = await asyncio.to_thread(press, ctx, action=action, value=value, actor=email)
            await asyncio.to_thread(ctx.delivery.deliver_due, ctx.clock.now())
        channel = (body.get("channel") or {}).get("id") or user
        await client.chat_postEphemeral(channel=channel, user=user, text=reply)

    return pressed


def app_home(ctx: AppContext, email: str) -> dict[str, Any]:
    """The App Home view for a person: a fixed number of reads whatever the history's size
    (the leads and tasks it lists, with counts for the rest, and the open coverages)."""
    manager = ctx.config.is_manager(email)
    mine = None if manager else email
    leads = ctx.repos.leads.page(assigned_to=mine, status=LeadStatus.NEW, limit=HOME_ROWS)
    tasks = ctx.repos.tasks.page(assignee_email=mine, status=TaskStatus.OPEN, limit=HOME_ROWS)
    return home_view(config=ctx.config, email=email, now=ctx.clock.now(),
                     coverages=ctx.coverage.open_coverages(), leads=leads, tasks=tasks)


def _leave_errors(values: dict[str, str | None]) -> dict[str, str]:
    errors: dict[str, str] = {}
    kind = values.get("kind")
    if kind is not None and kind not in {k.value for k in AbsenceKind}:
        # Only a forged or outdated form can send this; answer in the form, not with a 500.
        errors["kind"] = "Pick one of the kinds in the list."
    try:
        first = date.fromisoformat(values.get("start") or "")
    except ValueError:
        errors["start"] = "Pick the first day you are away."
        return errors
    try:
        last = date.fromisoformat(values.get("end") or "")
    except ValueError:
        errors["end"] = "Pick your last day away."
        return errors
    if last < first:
        errors["end"] = "The last day is before the first day."
    return errors
