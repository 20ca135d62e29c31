"""Neutral messages as Adaptive Cards for Teams, and the one escaping function for Teams.

Cards are version 1.5 with `Action.Execute` buttons (universal actions, so a press
comes back as an `adaptiveCard/action` invoke and the card can be refreshed in
place). Mentions are real Teams mentions: `<at>Name</at>` in the text plus an
entry in the card's `msteams.entities`. Every other piece of text is escaped, so a
lead's name or note cannot mention anyone or inject markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.messages import Actions, Bullets, Context, Header, Message, Section, render_text
from bot.messages import plain as strip_marks

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Teams refuses activities over about 28 KB; stay well inside it.
MAX_TEXT = 4000
MAX_ACTIONS = 6
_MENTION = re.compile(r"<@([^>\s|]+@[^>\s|]+)>")
_MARKDOWN = re.compile(r"([\\`*_\[\]()~#|{}!])")
_LINE_START = re.compile(r"^(\s*)([-+>]|\d+\.)", re.MULTILINE)


@dataclass(frozen=True)
class Mentionable:
    """How to mention a person on Teams: an id Teams resolves (AAD object id or UPN)."""

    id: str
    name: str


Resolver = Callable[[str], Mentionable | None]


def escape(text: str) -> str:
    """Text from outside made inert for Teams: no markdown, no `<at>` mentions, no HTML."""
    text = text.replace("<", "‹").replace(">", "›")
    text = _MARKDOWN.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _mentions(text: str, resolve: Resolver,
              entities: dict[str, dict[str, Any]]) -> str:
    """Our text with `<@email>` as real mentions and *bold* as Teams' **bold**; every
    piece from outside escaped."""
    def ours(piece: str) -> str:
        out: list[str] = []
        last = 0
        for match in _MENTION.finditer(piece):
            out.append(piece[last:match.start()].replace("*", "**"))
            person = resolve(match.group(1).lower())
            if person is None:
                out.append(escape(match.group(1)))
            else:
                tag = f"<at>{escape(person.name)}</at>"
                entities[tag] = {"type": "mention", "text": tag,
                                 "mentioned": {"id": person.id, "name": person.name}}
                out.append(tag)
            last = match.end()
        out.append(piece[last:].replace("*", "**"))
        return "".join(out)

    return render_text(text, ours=ours, theirs=escape)[:MAX_TEXT]


def inert(text: str) -> str:
    """A whole text shown as data (replies that may quote anything): escaped, marks gone."""
    return escape(strip_marks(text))


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def execute(verb: str, title: str, data: dict[str, str],
            style: str | None = None) -> dict[str, Any]:
    """An `Action.Execute` button (universal action)."""
    action: dict[str, Any] = {"type": "Action.Execute", "title": title[:50], "verb": verb,
                              "data": data}
    if style == "primary":
        action["style"] = "positive"
    elif style == "danger":
        action["style"] = "destructive"
    return action


def card(body: list[dict[str, Any]], *, actions: list[dict[str, Any]] | None = None,
         entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A whole Adaptive Card as Teams wants it (full width, mentions declared)."""
    content: dict[str, Any] = {"type": "AdaptiveCard", "$schema": CARD_SCHEMA,
                               "version": CARD_VERSION, "body": body,
                               "msteams": {"width": "Full"}}
    if actions:
        content["actions"] = actions
    if entities:
        content["msteams"]["entities"] = entities
    return content


def render(message: Message, *, resolve: Resolver) -> tuple[str, dict[str, Any]]:
    """(plain fallback text, Adaptive Card) for a neutral message."""
    entities: dict[str, dict[str, Any]] = {}

    def fix(text: str) -> str:
        return _mentions(text, resolve, entities)

    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, Header):
            body.append(_text_block(fix(block.text), size="Medium", weight="Bolder"))
        elif isinstance(block, Section):
            body.append(_text_block(fix(block.text)))
            if block.fields:
                body.append({"type": "FactSet", "facts": [
                    {"title": fix(label), "value": fix(value)}
                    for label, value in block.fields[:20]]})
        elif isinstance(block, Bullets):
            body.append(_text_block(fix(block.title), weight="Bolder"))
            items = [fix(i) for i in block.items] or [fix(block.empty)]
            body.append(_text_block("\n".join(f"- {i}" for i in items)[:MAX_TEXT]))
        elif isinstance(block, Actions):
            actions.extend(execute(b.action.value, b.label, {"value": b.value}, b.style)
                           for b in block.buttons)
        elif isinstance(block, Context):
            body.append(_text_block(fix(block.text), isSubtle=True, size="Small"))
    if not body:
        body.append(_text_block(fix(message.text)))
    fallback = _mentions(message.text, resolve, {}) or "oscbot"
    return fallback, card(body, actions=actions[:MAX_ACTIONS],
                          entities=list(entities.values()))


def handled(reply: str, message: Message | None, *, resolve: Resolver) -> dict[str, Any]:
    """The card after a button press: the same content, no buttons, and what was done."""
    base = render(message, resolve=resolve)[1] if message is not None else card([])
    base.pop("actions", None)
    base["body"] = [_text_block(f"✅ {inert(reply)}", weight="Bolder", color="Good"),
                    *base["body"]]
    return base


def plain(text: str) -> dict[str, Any]:
    """A card holding one escaped paragraph (replies to commands)."""
    return card([_text_block(inert(text))])
