"""The leave dialog on Teams: `task/fetch` opens the form, `task/submit` checks it and
declares the absence (the form itself is built and read in `forms`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from microsoft_teams.apps import ActivityContext

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound
from handlers import commands
from handlers.teams import forms
from handlers.teams.turns import Turns, raw

NOT_ON_THE_TEAM = "Sorry — your Teams account is not on the team."


class LeaveDialog:
    """Opens and submits the leave form."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns

    async def on_open(self, ctx: ActivityContext[Any]) -> dict[str, Any]:
        """task/fetch: show the leave form for the OSC named by the button."""
        activity = raw(ctx)
        email = await self.turns.actor(activity)
        if email is None:
            return forms.dialog_message(NOT_ON_THE_TEAM)
        data = (activity.get("value") or {}).get("data") or {}
        osc = str(data.get("osc") or forms.osc_for(self.turns.ctx.config, email))
        return await asyncio.to_thread(leave_form, self.turns.ctx, email, osc, {}, {})

    async def on_submit(self, ctx: ActivityContext[Any]) -> dict[str, Any]:
        """task/submit: check the form, declare the absence, close with a confirmation."""
        turns = self.turns
        activity = raw(ctx)
        email = await turns.actor(activity)
        if email is None:
            return forms.dialog_message(NOT_ON_THE_TEAM)
        if not await turns.new_activity(activity):
            return forms.dialog_message("Already received: see the confirmation above.")
        values = {k: str(v) for k, v in ((activity.get("value") or {}).get("data") or {}).items()
                  if k != "msteams"}
        answer, changed = await asyncio.to_thread(submit, turns.ctx, email, values)
        if changed:
            turns.kick()
        return answer


def leave_form(ctx: AppContext, actor: str, osc: str, values: dict[str, str],
               errors: dict[str, str]) -> dict[str, Any]:
    """The dialog showing the form, with the backups each OSC may have today."""
    now = ctx.clock.now()
    eligible: dict[str, list[str]] = {}
    for person in ctx.config.oscs:
        if person.email != osc and not ctx.config.is_manager(actor):
            continue
        choice = ctx.coverage.choose(osc_email=person.email, start=now,
                                     end=now + timedelta(days=1))
        skipped = {s.email for s in choice.skipped}
        eligible[person.email] = [b for b in person.backups if b not in skipped]
    today = now.astimezone(ZoneInfo(ctx.config.zone_of(actor))).date()
    return forms.dialog("Going on leave", forms.leave_card(
        config=ctx.config, actor=actor, osc=osc, today=today, eligible=eligible,
        values=values, errors=errors))


def submit(ctx: AppContext, actor: str,
           values: dict[str, str]) -> tuple[dict[str, Any], bool]:
    """(the dialog answer to a submitted form, whether an absence was declared)."""
    form, errors = forms.read_leave(values, actor=actor, config=ctx.config, now=ctx.clock.now())
    osc = values.get("osc") or actor
    if form is None:
        return leave_form(ctx, actor, osc, values, errors), False
    try:
        coverage = ctx.coverage.declare(
            osc_email=form.osc, start=form.start, end=form.end, kind=form.kind,
            actor=actor, backup_email=form.backup, notes=form.notes,
            emergency=form.emergency)
    except (InvalidInput, NotAllowed, NotFound) as exc:
        field = getattr(exc, "field", None) or "start"
        field = field if field in ("osc", "start", "end", "backup", "kind") else "start"
        return leave_form(ctx, actor, osc, values, {field: str(exc)[:300]}), False
    confirmation = commands.confirmation(ctx, coverage, zone=ctx.config.zone_of(actor))
    return forms.dialog_message(confirmation.text), True
