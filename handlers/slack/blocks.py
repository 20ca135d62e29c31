"""Neutral messages as Block Kit JSON, kept inside Slack's limits.

Blocks are built as the dicts slack_sdk.models would give (same keys, empty values left
out) without building and validating model objects: every DM and post is rendered on
delivery, and the models cost more than the rest of a send. The limits are kept here
(clipping, chunking); the test fake of Slack checks what arrives against Block Kit's
rules.

Outside text (lead fields, notes, calendar summaries, names) is escaped here and only
here for Slack: `mrkdwn` for Block Kit text and fallback text, `plain_text` for headers
and labels (Slack shows plain_text as is).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.messages import (
    ActionId,
    Actions,
    Bullets,
    Context,
    Header,
    Message,
    Section,
    plain,
    render_text,
)

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_BUTTONS = 25
MAX_BUTTON_TEXT = 75
_MENTION = re.compile(r"<@([^>\s|]+@[^>\s|]+)>")
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")

Resolver = Callable[[str], str | None]


def resolve_mentions(text: str, user_id_for: Resolver, name_for: Callable[[str], str]) -> str:
    """`<@email>` becomes `<@U123>`; someone Slack does not know is named, never dropped."""
    def swap(match: re.Match[str]) -> str:
        user = user_id_for(match.group(1))
        return f"<@{user}>" if user else f"*{name_for(match.group(1))}*"

    return _MENTION.sub(swap, text)


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters as entities, so outside text shows as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def reply_text(text: str) -> str:
    """A short reply (our words around names and whatever was typed) as mrkdwn: replies
    carry no markup of ours, so all of it is escaped."""
    return escape_mrkdwn(plain(text))


def mrkdwn(text: str, user_id_for: Resolver, name_for: Callable[[str], str]) -> str:
    """Neutral text as Slack mrkdwn: our mentions resolved, outside text escaped."""
    return render_text(text, ours=lambda piece: resolve_mentions(piece, user_id_for, name_for),
                       theirs=escape_mrkdwn)


def plain_text(text: str, name_for: Callable[[str], str]) -> str:
    """Neutral text for a plain_text object: mentions as names, nothing escaped."""
    return render_text(text, ours=lambda piece: _MENTION.sub(
        lambda m: name_for(m.group(1)), piece), theirs=lambda piece: piece)


def clip(text: str, size: int) -> str:
    """At most `size` characters, never ending inside an escaped entity."""
    if len(text) <= size:
        return text
    return _ENTITY_TAIL.sub("", text[:size - 1]) + "…"


def action_id(action: ActionId, position: int) -> str:
    """A block-unique action_id (Slack refuses two alike in one block); listeners match
    the prefix with `action_pattern`."""
    return f"{action.value}#{position}"


def action_pattern(action: ActionId) -> re.Pattern[str]:
    """Matches every action_id `action_id` makes for this action."""
    return re.compile(rf"^{re.escape(action.value)}(#\d+)?$")


def _chunks(text: str, size: int) -> list[str]:
    """Split on line breaks where possible, never past `size` characters."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            chunks.append(current)
            current = ""
        current += line
    if current or not chunks:
        chunks.append(current)
    return [c.rstrip("\n") or " " for c in chunks]


def _obj(kind: str, **values: Any) -> dict[str, Any]:
    """A Block Kit object; like slack_sdk's `to_dict`, None and empty values are left out."""
    out: dict[str, Any] = {"type": kind}
    for key, value in values.items():
        if value is not None and not (isinstance(value, (str, list)) and not value):
            out[key] = value
    return out


def _plain(text: str) -> dict[str, Any]:
    return _obj("plain_text", text=text)


def _mrkdwn(text: str) -> dict[str, Any]:
    return _obj("mrkdwn", text=text)


def _blocks(message: Message, fix: Callable[[str], str],
            label: Callable[[str], str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, Header):
            out.append(_obj("header", text=_plain(clip(label(block.text), MAX_HEADER))))
        elif isinstance(block, Section):
            parts = _chunks(fix(block.text), MAX_SECTION)
            fields = [_mrkdwn(clip(f"*{fix(name)}*\n{fix(value)}", MAX_FIELD))
                      for name, value in block.fields[:10]]
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                out.append(_obj("section", text=_mrkdwn(part),
                                fields=fields if last and fields else None))
        elif isinstance(block, Bullets):
            items = block.items or (block.empty,)
            body = f"*{fix(block.title)}*\n" + "\n".join(f"• {fix(i)}" for i in items)
            out.extend(_obj("section", text=_mrkdwn(part))
                       for part in _chunks(body, MAX_SECTION))
        elif isinstance(block, Actions):
            for start in range(0, len(block.buttons), MAX_BUTTONS):
                out.append(_obj("actions", elements=[
                    _obj("button", text=_plain(clip(label(b.label), MAX_BUTTON_TEXT)),
                         action_id=action_id(b.action, position), value=b.value,
                         style=b.style)
                    for position, b in enumerate(block.buttons[start:start + MAX_BUTTONS])]))
        elif isinstance(block, Context):
            out.append(_obj("context", elements=[_mrkdwn(clip(fix(block.text), MAX_SECTION))]))
    return out


def render(message: Message, *, user_id_for: Resolver, name_for: Callable[[str], str],
           limit: int = MAX_MESSAGE_BLOCKS) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for chat.postMessage/chat.update; blocks capped at `limit`."""
    def fix(text: str) -> str:
        return mrkdwn(text, user_id_for, name_for)

    blocks = _blocks(message, fix, lambda t: plain_text(t, name_for))
    if len(blocks) > limit:
        blocks = [*blocks[:limit - 1], _obj("context", elements=[
            _mrkdwn(f"… {len(blocks) - limit + 1} more parts not shown")])]
    fallback = fix(message.text).strip() or "oscbot"
    return clip(fallback, MAX_SECTION), blocks


def render_view(message: Message, *, user_id_for: Resolver,
                name_for: Callable[[str], str]) -> list[dict[str, Any]]:
    """Blocks for a modal or the App Home (at most 100)."""
    return render(message, user_id_for=user_id_for, name_for=name_for,
                  limit=MAX_VIEW_BLOCKS)[1]
