"""Platform-neutral message content: what a brief, alert or list says.

Chat adapters render these blocks (Block Kit, Adaptive Cards, terminal text).
Mentions are written `<@person@example.com>` and resolved by the adapter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

# Text that did not come from us (lead fields, notes, calendar summaries, names) is
# wrapped in two private-use characters, so each chat adapter escapes exactly that text
# for its own markup in one place and never mistakes it for ours (mentions, *bold*).
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKS = re.compile(f"([{_OPEN}{_CLOSE}])")


class ActionId(StrEnum):
    """Every button oscbot shows; adapters route presses by these ids."""

    LEAD_CALLED = "lead_called"
    LEAD_EMAILED = "lead_emailed"
    LEAD_TEXTED = "lead_texted"
    LEAD_APPOINTMENT = "lead_appointment"
    LEAD_NOT_A_LEAD = "lead_not_a_lead"
    LEAD_CLAIM = "lead_claim"
    REMINDER_DONE = "reminder_done"
    REMINDER_SNOOZE = "reminder_snooze"
    ROUTING_STEP_DONE = "routing_step_done"
    COVERAGE_BACK = "coverage_back"
    COVERAGE_STILL_AWAY = "coverage_still_away"


def outside(text: str | None) -> str:
    """Mark text that came from outside (a lead, a calendar, a person) as data, not markup."""
    if not text:
        return ""
    return f"{_OPEN}{plain(text)}{_CLOSE}"


def segments(text: str) -> Iterator[tuple[bool, str]]:
    """The pieces of `text` in order, each as (came from outside, piece).

    A piece cut from a longer text (one line of several) may hold only one of the two
    marks: text before a lone closing mark, or after a lone opening one, is outside.
    """
    first_close, first_open = text.find(_CLOSE), text.find(_OPEN)
    foreign = first_close != -1 and (first_open == -1 or first_close < first_open)
    for piece in _MARKS.split(text):
        if piece == _OPEN:
            foreign = True
        elif piece == _CLOSE:
            foreign = False
        elif piece:
            yield foreign, piece


def render_text(text: str, *, ours: Callable[[str], str],
                theirs: Callable[[str], str]) -> str:
    """`text` with our pieces passed through `ours` and outside pieces through `theirs`."""
    return "".join(theirs(piece) if foreign else ours(piece)
                   for foreign, piece in segments(text))


def plain(text: str) -> str:
    """`text` without the outside-text marks, for places that show it as is."""
    return text.replace(_OPEN, "").replace(_CLOSE, "")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending with "…" when something was cut."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def mention(email: str) -> str:
    """The neutral mention token for a person, resolved by each chat adapter."""
    return f"<@{email}>"


@dataclass(frozen=True)
class Button:
    """A button; `value` carries the id of what it acts on."""

    action: ActionId
    label: str
    value: str
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Header:
    """A title line."""

    text: str


@dataclass(frozen=True)
class Section:
    """A paragraph of text with optional label/value fields."""

    text: str
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Bullets:
    """A titled list; an empty list shows `empty` instead."""

    title: str
    items: tuple[str, ...]
    empty: str = "None."


@dataclass(frozen=True)
class Actions:
    """A row of buttons."""

    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class Context:
    """Small print under a message."""

    text: str


Block = Header | Section | Bullets | Actions | Context


@dataclass(frozen=True)
class Message:
    """A whole message: fallback text plus blocks."""

    text: str
    blocks: tuple[Block, ...] = ()
    mentions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for the outbox."""
        return {
            "text": self.text,
            "mentions": list(self.mentions),
            "blocks": [_block_to_dict(b) for b in self.blocks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Rebuild a message stored by `to_dict`."""
        return cls(
            text=str(data["text"]),
            mentions=tuple(data.get("mentions", ())),
            blocks=tuple(_block_from_dict(b) for b in data.get("blocks", ())),
        )


def _block_to_dict(block: Block) -> dict[str, Any]:
    if isinstance(block, Header):
        return {"type": "header", "text": block.text}
    if isinstance(block, Section):
        return {"type": "section", "text": block.text, "fields": [list(f) for f in block.fields]}
    if isinstance(block, Bullets):
        return {"type": "bullets", "title": block.title, "items": list(block.items),
                "empty": block.empty}
    if isinstance(block, Actions):
        return {"type": "actions", "buttons": [
            {"action": b.action.value, "label": b.label, "value": b.value, "style": b.style}
            for b in block.buttons
        ]}
    return {"type": "context", "text": block.text}


def _block_from_dict(data: dict[str, Any]) -> Block:
    kind = data["type"]
    if kind == "header":
        return Header(data["text"])
    if kind == "section":
        return Section(data["text"], tuple((str(a), str(b)) for a, b in data.get("fields", ())))
    if kind == "bullets":
        return Bullets(data["title"], tuple(data["items"]), data.get("empty", "None."))
    if kind == "actions":
        return Actions(tuple(
            Button(ActionId(b["action"]), b["label"], b["value"], b.get("style"))
            for b in data["buttons"]
        ))
    return Context(data["text"])
