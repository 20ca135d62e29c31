"""Buttons on oscbot's cards (`Action.Execute`, an `adaptiveCard/action` invoke): the same
permission checks as Slack, one press taken once across replicas, the card refreshed."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from microsoft_teams.apps import ActivityContext

from bot.context import AppContext
from bot.leads.alerts import lead_card
from bot.messages import ActionId
from handlers.actions import attempt
from handlers.teams import forms
from handlers.teams.cards import Resolver, handled
from handlers.teams.turns import Turns, raw

DOUBLE_CLICK = 30.0
LEAD_ACTIONS = {ActionId.LEAD_CALLED, ActionId.LEAD_EMAILED, ActionId.LEAD_TEXTED,
                ActionId.LEAD_APPOINTMENT, ActionId.LEAD_NOT_A_LEAD, ActionId.LEAD_CLAIM}


class CardActions:
    """Answers button presses; remembers this replica's recent answers for double clicks."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns
        self._recent: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}

    async def on_card_action(self, ctx: ActivityContext[Any]) -> dict[str, Any]:
        """adaptiveCard/action: the same permission checks as Slack; the card refreshed."""
        turns = self.turns
        activity = raw(ctx)
        action = (activity.get("value") or {}).get("action") or {}
        try:
            verb = ActionId(str(action.get("verb")))
        except ValueError:
            return forms.notice("That button is no longer supported.")
        value = str((action.get("data") or {}).get("value") or "")
        email = await turns.actor(activity)
        if email is None:
            return forms.notice("Sorry — your Teams account is not on the team in app.yaml.")
        key = (email, verb.value, value)
        seen = self._recent.get(key)
        if seen is not None and time.monotonic() - seen[0] < DOUBLE_CLICK:
            return seen[1]
        # One press of a button on a card, across replicas: a double click (or Teams
        # delivering the invoke again) does nothing twice.
        if not await self.first_press(activity, email, verb.value, value):
            return forms.notice("Already received: that press is being handled.")
        done, reply = await asyncio.to_thread(attempt, turns.ctx, action=verb, value=value,
                                              actor=email)
        if not done:
            return forms.notice(reply)
        turns.kick()
        answer = forms.refreshed(await asyncio.to_thread(
            after_press, turns.ctx, verb, value, reply, resolve=turns.chat.mentionable))
        self._recent = {k: v for k, v in self._recent.items()
                        if time.monotonic() - v[0] < DOUBLE_CLICK}
        self._recent[key] = (time.monotonic(), answer)
        return answer

    async def first_press(self, activity: dict[str, Any], email: str, verb: str,
                          value: str) -> bool:
        """Whether no replica took this press of this button in the last 30-60 s.

        A press claims its 30 s slot and the next one, so a second press is caught however
        the slots fall, while a press retried a minute later (after a refusal or a failure)
        is taken again.
        """
        slot = int(self.turns.ctx.clock.now().timestamp() // DOUBLE_CLICK)
        base = press_key(activity, email, verb, value)
        for n in (slot, slot + 1):
            if not await self.turns.first_time(f"{base}:{n}"):
                return False
        return True


def after_press(ctx: AppContext, verb: ActionId, value: str, reply: str, *,
                resolve: Resolver) -> dict[str, Any]:
    """The card as it stands after the press: a lead's card afresh, with what was done."""
    message = None
    if verb in LEAD_ACTIONS:
        lead = ctx.leads.get(int(value))
        message = lead_card(lead, config=ctx.config, zone=ctx.config.zone_of(lead.assigned_to),
                            covering_for=None)
    return handled(reply, message, resolve=resolve)


def press_key(activity: dict[str, Any], email: str, verb: str, value: str) -> str:
    """The inbound dedupe id of a button press: who pressed which button on which card."""
    conversation = str((activity.get("conversation") or {}).get("id") or "")
    card = str(activity.get("replyToId") or activity.get("id") or "")
    parts = "\n".join((conversation, card, email.lower(), verb, value))
    return "press:" + hashlib.sha256(parts.encode()).hexdigest()[:40]
