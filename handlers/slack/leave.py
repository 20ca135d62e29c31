"""`/going-on-leave` in Slack: filed at once when the typed text is complete (as in the
console shell), otherwise a form pre-filled with what was typed. The form lists the
backups of the OSC picked and follows a manager's change of "who is away"."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError
from bot.messages import Message, plain
from bot.model import AbsenceKind
from bot.team.names import name_of
from handlers import commands
from handlers.slack.blocks import reply_text
from handlers.slack.dedupe import SOURCE, submission_id
from handlers.slack.directory import Directory
from handlers.slack.views import LEAVE_CALLBACK, leave_modal, submitted_values

Who = Callable[[AsyncWebClient, str, AsyncAck], Awaitable[str | None]]
Blocks = Callable[[AppContext, Message], dict[str, Any]]
Dm = Callable[..., Awaitable[None]]


def register_leave(app: AsyncApp, ctx: AppContext, *, directory: Directory, who: Who,
                   blocks: Blocks, dm: Dm) -> None:
    """The command, the form's "who is away" change and the form's submission."""

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
        text = await directory.expand(client, command.get("text") or "")
        draft: commands.LeaveDraft | None = commands.LeaveDraft()
        if text.strip():
            try:
                message = await asyncio.to_thread(commands.going_on_leave, ctx, text=text,
                                                  actor=email)
            except OscbotError as exc:
                draft = commands.leave_draft(text, config=ctx.config)
                if draft is None or (draft.first and draft.last):
                    # Wrong rather than incomplete: say what, with the usage.
                    await ack(text=reply_text(f"Sorry — {exc}"))
                    return
            else:
                await ack(**blocks(ctx, message))
                return
        await ack()
        assert draft is not None
        osc = draft.osc_email or (email if person.role.value == "osc"
                                  else ctx.config.oscs[0].email)
        if ctx.config.find_person(osc) is None or ctx.config.person(osc).role.value != "osc":
            osc = ctx.config.oscs[0].email
        view = await asyncio.to_thread(_modal, ctx, actor=email, osc=osc, draft=draft)
        await client.views_open(trigger_id=command["trigger_id"], view=view)

    @app.action({"block_id": "osc", "action_id": "value"})
    async def osc_changed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        email = await directory.email(client, body["user"]["id"])
        osc = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
        if email is None or not osc or ctx.config.find_person(osc) is None:
            return
        view = body["view"]
        values = submitted_values(view)
        draft = commands.LeaveDraft(
            first=_day(values.get("start")), last=_day(values.get("end")),
            kind=_kind(values.get("kind")),
            notes=values.get("notes") or "")
        new = await asyncio.to_thread(_modal, ctx, actor=email, osc=osc, draft=draft)
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=new)

    @app.view(LEAVE_CALLBACK)
    async def leave_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                              client: AsyncWebClient) -> None:
        email = await directory.email(client, body["user"]["id"])
        values = submitted_values(view)
        osc = values.get("osc") or view["private_metadata"]
        errors = leave_errors(values)
        if email is None:
            errors["start"] = directory.refusal(body["user"]["id"])[:150]
        backup = values.get("backup") if values.get("backup") not in (None, "none") else None
        person = ctx.config.find_person(osc)
        if backup and person is not None and backup not in person.backups:
            listed = ", ".join(name_of(ctx.config, b) for b in person.backups)
            errors["backup"] = (f"{name_of(ctx.config, backup)} is not one of "
                                f"{person.name}'s backups ({listed or 'none listed'})")[:150]
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        assert email is not None
        # The same submission delivered twice (on any replica) plans one coverage: the
        # second is acknowledged, closing the form, and does nothing.
        submission = submission_id(body, view)
        if not await asyncio.to_thread(ctx.inbound.first_time, source=SOURCE,
                                       event_id=submission):
            await ack()
            return
        zone = ZoneInfo(ctx.config.zone_of(email))
        first = date.fromisoformat(values["start"] or "")
        last = date.fromisoformat(values["end"] or "")
        try:
            coverage = await asyncio.to_thread(
                ctx.coverage.declare, osc_email=osc,
                start=datetime.combine(first, time(0), tzinfo=zone),
                end=datetime.combine(last, time(0), tzinfo=zone) + timedelta(days=1),
                kind=AbsenceKind(values["kind"] or "vacation"), actor=email,
                backup_email=backup, notes=values.get("notes") or "",
                emergency="now" in (values.get("emergency") or ""))
        except Exception as exc:
            # Nothing was planned: the person may send the very same form again.
            await asyncio.to_thread(ctx.inbound.forget, source=SOURCE, event_id=submission)
            if not isinstance(exc, (InvalidInput, NotAllowed, NotFound)):
                raise
            field = getattr(exc, "field", None)
            block = {"backup": "backup", "end": "end", "start": "start"}.get(field or "",
                                                                             "start")
            await ack(response_action="errors", errors={block: plain(str(exc))[:150]})
            return
        await ack()
        confirmation = commands.confirmation(ctx, coverage, zone=ctx.config.zone_of(email))
        await dm(client, body["user"]["id"], **blocks(ctx, confirmation))


def _modal(ctx: AppContext, *, actor: str, osc: str,
           draft: commands.LeaveDraft) -> dict[str, Any]:
    """The form for `osc`: their backups, each marked with whether they can cover now."""
    now = ctx.clock.now()
    today = now.astimezone(ZoneInfo(ctx.config.zone_of(actor))).date()
    choice = ctx.coverage.choose(osc_email=osc, start=now, end=now)
    skipped = {s.email: s.reason for s in choice.skipped}
    eligibility = {b: skipped.get(b) for b in ctx.config.person(osc).backups}
    return leave_modal(config=ctx.config, actor=actor, osc=osc, today=today,
                       eligibility=eligibility, draft=draft)


def _kind(value: str | None) -> AbsenceKind | None:
    return AbsenceKind(value) if value in {k.value for k in AbsenceKind} else None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


def leave_errors(values: dict[str, str | None]) -> dict[str, str]:
    """Form fields that are missing or wrong, by block id."""
    errors: dict[str, str] = {}
    kind = values.get("kind")
    if kind is not None and kind not in {k.value for k in AbsenceKind}:
        # Only a forged or outdated form can send this; answer in the form, not with a 500.
        errors["kind"] = "Pick one of the kinds in the list."
    first, last = _day(values.get("start")), _day(values.get("end"))
    if first is None:
        errors["start"] = "Pick the first day you are away."
    elif last is None:
        errors["end"] = "Pick your last day away."
    elif last < first:
        errors["end"] = "The last day is before the first day."
    return errors
