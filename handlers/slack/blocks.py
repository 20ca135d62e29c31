"""Neutral messages as Block Kit, built with slack_sdk.models and kept inside Slack's limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.messages import Actions, Bullets, Context, Header, Message, Section

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_BUTTONS = 25
_MENTION = re.compile(r"<@([^>\s|]+@[^>\s|]+)>")

Resolver = Callable[[str], str | None]


def resolve_mentions(text: str, user_id_for: Resolver, name_for: Callable[[str], str]) -> str:
    """`<@email>` becomes `<@U123>`; someone Slack does not know is named, never dropped."""
    def swap(match: re.Match[str]) -> str:
        user = user_id_for(match.group(1))
        return f"<@{user}>" if user else f"*{name_for(match.group(1))}*"

    return _MENTION.sub(swap, text)


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


def _blocks(message: Message, fix: Callable[[str], str]) -> list[Block]:
    out: list[Block] = []
    for block in message.blocks:
        if isinstance(block, Header):
            out.append(HeaderBlock(text=PlainTextObject(text=fix(block.text)[:MAX_HEADER])))
        elif isinstance(block, Section):
            parts = _chunks(fix(block.text), MAX_SECTION)
            fields = [MarkdownTextObject(text=f"*{label}*\n{fix(value)}"[:MAX_FIELD])
                      for label, value in block.fields[:10]]
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                out.append(SectionBlock(text=MarkdownTextObject(text=part),
                                        fields=fields if last and fields else None))
        elif isinstance(block, Bullets):
            items = block.items or (block.empty,)
            body = f"*{fix(block.title)}*\n" + "\n".join(f"• {fix(i)}" for i in items)
            out.extend(SectionBlock(text=MarkdownTextObject(text=part))
                       for part in _chunks(body, MAX_SECTION))
        elif isinstance(block, Actions):
            for start in range(0, len(block.buttons), MAX_BUTTONS):
                out.append(ActionsBlock(elements=[
                    ButtonElement(text=PlainTextObject(text=b.label[:75]),
                                  action_id=b.action.value, value=b.value, style=b.style)
                    for b in block.buttons[start:start + MAX_BUTTONS]]))
        elif isinstance(block, Context):
            out.append(ContextBlock(elements=[MarkdownTextObject(text=fix(block.text)[:MAX_SECTION])]))
    return out


def render(message: Message, *, user_id_for: Resolver, name_for: Callable[[str], str],
           limit: int = MAX_MESSAGE_BLOCKS) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for chat.postMessage/chat.update; blocks capped at `limit`."""
    def fix(text: str) -> str:
        return resolve_mentions(text, user_id_for, name_for)

    blocks = [b.to_dict() for b in _blocks(message, fix)]
    if len(blocks) > limit:
        blocks = [*blocks[:limit - 1], ContextBlock(elements=[MarkdownTextObject(
            text=f"… {len(blocks) - limit + 1} more parts not shown")]).to_dict()]
    fallback = fix(message.text).strip() or "oscbot"
    return fallback[:MAX_SECTION], blocks


def render_view(message: Message, *, user_id_for: Resolver,
                name_for: Callable[[str], str]) -> list[dict[str, Any]]:
    """Blocks for a modal or the App Home (at most 100)."""
    return render(message, user_id_for=user_id_for, name_for=name_for,
                  limit=MAX_VIEW_BLOCKS)[1]
