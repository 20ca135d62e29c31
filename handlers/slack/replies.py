"""How an answer reaches the person in Slack, and the words for what went wrong: one
place for both, so every listener says it the same way."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError
from bot.messages import Message
from handlers.slack.blocks import render, reply_text
from handlers.slack.directory import Directory

log = logging.getLogger(__name__)

HELP = ("*oscbot* keeps leads covered while an OSC is away.\n"
        "• `/going-on-leave` — plan an absence (or an emergency starting now)\n"
        "• `/coverage` — who is out and who covers\n"
        "• `/im-back` — end your coverage now (managers: `/im-back for:EMAIL`)\n"
        "• `/handoff-drill [EMAIL]` — practice run; switches nothing\n"
        "• `/oscbot calendar [EMAIL]` — lead calendar (managers: anyone's)")


def explain(exc: OscbotError) -> str:
    """Our words for a refusal or a failure, as a reply."""
    if isinstance(exc, (NotAllowed, NotFound, InvalidInput)):
        return reply_text(f"Sorry — {exc}")
    return reply_text(f"That did not work: {exc}")


def slack_message(ctx: AppContext, message: Message) -> dict[str, Any]:
    """A neutral message as the `text` and `blocks` of a Slack message."""
    names = {p.email: p.name for p in ctx.config.people}
    ids = {p.email: p.chat.slack for p in ctx.config.people if p.chat.slack}
    text, blocks = render(message, user_id_for=ids.get, name_for=lambda e: names.get(e, e))
    return {"text": text, "blocks": blocks}


async def tell(respond: AsyncRespond, message: dict[str, Any]) -> None:
    """Show a command's answer to the person who typed it, after the ack: through the
    command's response_url, seen by them alone, as an answer in the ack would be."""
    sent = await respond(response_type="ephemeral", **message)
    if sent.status_code != 200:
        # Slack answers a refused response with a short code (`expired_url`, `no_text`).
        log.error("slack refused a command's response: %s %s", sent.status_code, sent.body)


async def team_email(directory: Directory, client: AsyncWebClient, user_id: str,
                     respond: AsyncRespond) -> str | None:
    """The team email of who typed a command; None after telling a stranger how to fix it."""
    email = await directory.email(client, user_id)
    if email is None:
        await tell(respond, {"text": reply_text(directory.refusal(user_id))})
    return email


async def dm(client: AsyncWebClient, user: str, **message: Any) -> None:
    """Post into the DM with a user (Slack wants the conversation's id, not the user's)."""
    opened = await client.conversations_open(users=user)
    await client.chat_postMessage(channel=opened["channel"]["id"], **message)
