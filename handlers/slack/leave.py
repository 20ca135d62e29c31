"""`/going-on-leave` in Slack: filed at once when the typed text is complete (as in the
console shell), otherwise a form pre-filled with what was typed. The form lists the
backups of the OSC picked and follows a manager's change of "who is away".

The command and the form's "who is away" change ack at once and work after; a
submission must answer in its ack to show errors beside the fields, so it waits for the
service up to the ack budget and, past it, closes the form and says the outcome by DM."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError
from bot.messages import plain
from bot.model import AbsenceKind, Coverage
from bot.team.names import name_of
from handlers import commands
from handlers.slack.blocks import reply_text
from handlers.slack.dedupe import SOURCE, submission_id
from handlers.slack.directory import Directory
from handlers.slack.listener import Kind, Later, Listener, ack_now
from handlers.slack.replies import dm, explain, slack_message, team_email, tell
from handlers.slack.views import LEAVE_CALLBACK, leave_modal, submitted_values

# The refusals the form shows beside a field; anything else is a failure of ours.
REFUSALS = (InvalidInput, NotAllowed, NotFound)


@dataclass(frozen=True)
class Filed:
    """What filing one submission came to: a coverage, a refusal, or neither (a repeat)."""

    coverage: Coverage | None = None
    refused: OscbotError | None = None


class LeaveForm:
    """The command, the form's "who is away" change and the form's submission."""

    def __init__(self, ctx: AppContext, *, directory: Directory, later: Later) -> None:
        self._ctx = ctx
        self._directory = directory
        self._later = later

    def listeners(self) -> tuple[Listener, ...]:
        """The leave form's rows of the listener table."""
        return (
            Listener(Kind.COMMAND, "/going-on-leave", ack=ack_now,
                     lazy=(self.going_on_leave,)),
            Listener(Kind.ACTION, {"block_id": "osc", "action_id": "value"}, ack=ack_now,
                     lazy=(self.osc_changed,)),
            Listener(Kind.VIEW, LEAVE_CALLBACK, ack=self.submitted),
        )

    async def going_on_leave(self, command: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
        """After the ack: file complete text, say what is wrong, or open the form."""
        ctx = self._ctx
        email = await team_email(self._directory, client, command["user_id"], respond)
        if not email:
            return
        person = ctx.config.person(email)
        if person.role.value != "osc" and not ctx.config.is_manager(email):
            await tell(respond, {"text": "Sorry — only OSCs (or a manager for them) declare "
                                         "leave."})
            return
        text = await self._directory.expand(client, command.get("text") or "")
        draft = commands.LeaveDraft()
        if text.strip():
            try:
                message = await asyncio.to_thread(commands.going_on_leave, ctx, text=text,
                                                  actor=email)
            except OscbotError as exc:
                typed = commands.leave_draft(text, config=ctx.config)
                if typed is None or (typed.first and typed.last):
                    # Wrong rather than incomplete: say what, with the usage.
                    await tell(respond, {"text": reply_text(f"Sorry — {exc}")})
                    return
                draft = typed
            else:
                await tell(respond, slack_message(ctx, message))
                return
        osc = draft.osc_email or (email if person.role.value == "osc"
                                  else ctx.config.oscs[0].email)
        if ctx.config.find_person(osc) is None or ctx.config.person(osc).role.value != "osc":
            osc = ctx.config.oscs[0].email
        view = await asyncio.to_thread(_modal, ctx, actor=email, osc=osc, draft=draft)
        await client.views_open(trigger_id=command["trigger_id"], view=view)

    async def osc_changed(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """After the ack: redraw the form for the OSC a manager picked, keeping the dates."""
        ctx = self._ctx
        email = await self._directory.email(client, body["user"]["id"])
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

    async def submitted(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                        client: AsyncWebClient) -> None:
        """The form sent: errors beside the fields, or the coverage planned and confirmed
        by DM after the ack."""
        ctx = self._ctx
        user = body["user"]["id"]
        email = await self._directory.email(client, user)
        values = submitted_values(view)
        osc = values.get("osc") or view["private_metadata"]
        errors = leave_errors(values)
        if email is None:
            errors["start"] = self._directory.refusal(user)[:150]
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
        filed = await self._later.wait(self._file(body, view, values, osc=osc, backup=backup,
                                                  actor=email))
        refused = filed.result().refused if filed.done() else None
        if refused is not None:
            field = getattr(refused, "field", None)
            block = {"backup": "backup", "end": "end", "start": "start"}.get(field or "",
                                                                             "start")
            await ack(response_action="errors", errors={block: plain(str(refused))[:150]})
            return
        await ack()
        self._later.then(filed, lambda outcome: self._confirm(client, user, email, outcome))

    async def _file(self, body: dict[str, Any], view: dict[str, Any],
                    values: dict[str, str | None], *, osc: str, backup: str | None,
                    actor: str) -> Filed:
        """Plan the coverage a checked form asks for, once per submission."""
        ctx = self._ctx
        # The same submission delivered twice (on any replica) plans one coverage: the
        # second is acknowledged, closing the form, and does nothing.
        submission = submission_id(body, view)
        if not await asyncio.to_thread(ctx.inbound.first_time, source=SOURCE,
                                       event_id=submission):
            return Filed()
        zone = ZoneInfo(ctx.config.zone_of(actor))
        first = date.fromisoformat(values["start"] or "")
        last = date.fromisoformat(values["end"] or "")
        try:
            coverage = await asyncio.to_thread(
                ctx.coverage.declare, osc_email=osc,
                start=datetime.combine(first, time(0), tzinfo=zone),
                end=datetime.combine(last, time(0), tzinfo=zone) + timedelta(days=1),
                kind=AbsenceKind(values["kind"] or "vacation"), actor=actor,
                backup_email=backup, notes=values.get("notes") or "",
                emergency="now" in (values.get("emergency") or ""))
        except Exception as exc:
            # Nothing was planned: the person may send the very same form again.
            await asyncio.to_thread(ctx.inbound.forget, source=SOURCE, event_id=submission)
            if not isinstance(exc, REFUSALS):
                raise
            return Filed(refused=exc)
        return Filed(coverage=coverage)

    async def _confirm(self, client: AsyncWebClient, user: str, actor: str,
                       filed: Filed) -> None:
        """Tell the person by DM what their (closed) form came to."""
        if filed.refused is not None:
            # Refused after the form had closed (the service was slow): no field to show
            # it beside, so it comes by DM in the words a typed command gets.
            await dm(client, user, text=explain(filed.refused))
        elif filed.coverage is not None:
            confirmation = commands.confirmation(self._ctx, filed.coverage,
                                                 zone=self._ctx.config.zone_of(actor))
            await dm(client, user, **slack_message(self._ctx, confirmation))


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
