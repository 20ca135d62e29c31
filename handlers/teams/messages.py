"""Text commands on Teams: what a person types in the 1:1 chat or after @oscbot in a
channel, answered with a card by the same command code as the console and Slack."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from typing import Any

import httpx
from microsoft_teams.api.activities import MessageActivityInput
from microsoft_teams.api.models import Attachment
from microsoft_teams.apps import ActivityContext

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError
from bot.messages import Message
from handlers import commands
from handlers.teams import forms
from handlers.teams.cards import CARD_CONTENT_TYPE, Resolver, plain, render
from handlers.teams.turns import Turns, raw

log = logging.getLogger(__name__)
HELP = ("oscbot keeps leads covered while an OSC is away. Mention @oscbot in the channel or "
        "write to it directly:\n"
        "- going on leave: the leave form (or: going on leave 2026-12-01 2026-12-05 vacation "
        "[for EMAIL])\n- coverage: who is out and who covers\n"
        "- im back: end your coverage now (managers: im back for EMAIL)\n"
        "- handoff drill [EMAIL]: practice run, switches nothing\n"
        "- calendar [EMAIL]: lead calendar (managers: anyone's)\n- help: this list")
_AT = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


class Messages:
    """Answers message activities addressed to the bot."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns

    async def on_message(self, ctx: ActivityContext[Any]) -> None:
        """A command typed in the 1:1 chat or after @oscbot in the channel."""
        turns = self.turns
        activity = raw(ctx)
        if not addressed_to_bot(activity):
            return  # channel chatter (the channel-read consent delivers it all): not ours
        if not await turns.new_activity(activity):
            return  # delivered again: it was answered the first time
        email = await turns.actor(activity)
        await asyncio.to_thread(turns.remember, activity, email)
        text = command_text(activity.get("text"))
        content, changed = await asyncio.to_thread(
            command, turns.ctx, email, text, resolve=turns.chat.mentionable)
        if changed:
            turns.kick()
        try:
            await ctx.send(MessageActivityInput(attachments=[
                Attachment(content_type=CARD_CONTENT_TYPE, content=content)]))
        except httpx.HTTPError as exc:
            # The command is done; a 500 would make Teams resend it and run it twice.
            log.warning("Teams reply could not be sent: %s", type(exc).__name__)


def command(ctx: AppContext, actor: str | None, text: str, *,
            resolve: Resolver) -> tuple[dict[str, Any], bool]:
    """(the card answering a typed command, whether it changed anything)."""
    if actor is None:
        return plain("Sorry — your Teams account is not on the team in app.yaml "
                     "(ask your admin to add your email)."), False
    lowered = text.lower().replace("’", "'")
    zone = ctx.config.zone_of(actor)

    def card(message: Message) -> dict[str, Any]:
        return render(message, resolve=resolve)[1]

    try:
        if lowered.startswith("going on leave"):
            rest = _as_arguments(text[len("going on leave"):].strip())
            if not rest or rest.lower().startswith("for:"):
                osc = rest[4:] if rest else forms.osc_for(ctx.config, actor)
                return forms.open_button(osc), False
            return card(commands.going_on_leave(ctx, text=rest, actor=actor)), True
        if lowered in ("coverage", "who is out"):
            return card(commands.coverage_status(ctx, zone=zone)), False
        for back in ("im back", "i'm back", "i am back"):
            if lowered.startswith(back):
                rest = _as_arguments(text[len(back):].strip())
                return card(commands.im_back(ctx, actor=actor, text=rest)), True
        if lowered.startswith("handoff drill"):
            target = text[len("handoff drill"):].strip() or actor
            return card(commands.drill(ctx, osc_email=target)), False
        if lowered.startswith("calendar"):
            person = text[len("calendar"):].strip() or None
            return card(commands.lead_calendar(ctx, actor=actor, person=person)), False
    except (InvalidInput, NotAllowed, NotFound) as exc:
        return plain(f"Sorry — {exc}"), False
    except OscbotError as exc:
        return plain(f"That did not work: {exc}"), False
    prefix = "" if lowered in ("", "help") else f"I did not understand “{text[:80]}”.\n\n"
    return plain(prefix + HELP), False


def command_text(text: str | None) -> str:
    """What a person typed, without the @mention of the bot, HTML or extra spaces."""
    plain_text = html.unescape(_TAG.sub(" ", _AT.sub(" ", text or "")))
    return " ".join(plain_text.replace("\u00a0", " ").split())


def addressed_to_bot(activity: dict[str, Any]) -> bool:
    """A 1:1 message, or a channel or group message that @mentions the bot."""
    kind = (activity.get("conversation") or {}).get("conversationType") or "personal"
    if kind == "personal":
        return True
    bot = (activity.get("recipient") or {}).get("id")
    return any(e.get("type") == "mention" and (e.get("mentioned") or {}).get("id") == bot
               for e in activity.get("entities") or [])


def _as_arguments(words: str) -> str:
    """`for EMAIL` / `backup EMAIL` as on Teams, into the console's `for:` / `backup:`."""
    return re.sub(r"\b(for|backup)\s+(\S+@\S+)", r"\1:\2", words, flags=re.IGNORECASE)
