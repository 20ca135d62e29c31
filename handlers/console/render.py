"""Plain-text rendering of neutral messages, with numbered buttons."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rich.markup import escape

from bot.messages import (
    Actions,
    Bullets,
    Button,
    Context,
    Header,
    Message,
    Section,
    render_text,
)

_MENTION = re.compile(r"<@([^>\s]+@[^>\s]+)>")


@dataclass(frozen=True)
class Rendered:
    """A message as terminal lines, plus the buttons it showed in order."""

    lines: tuple[str, ...]
    buttons: tuple[Button, ...]


def resolve_mentions(text: str, name_for: Callable[[str], str]) -> str:
    """Replace `<@email>` tokens with `@Name`."""
    return _MENTION.sub(lambda m: "@" + name_for(m.group(1)), text)


def render(message: Message, *, name_for: Callable[[str], str], first_button: int = 1) -> Rendered:
    """Lay a message out as lines; buttons are numbered from `first_button`."""
    lines: list[str] = []
    buttons: list[Button] = []
    for block in message.blocks or (Section(message.text),):
        if isinstance(block, Header):
            lines.append(f"== {block.text} ==")
        elif isinstance(block, Section):
            lines.extend(block.text.splitlines())
            lines.extend(f"   {label}: {value}" for label, value in block.fields)
        elif isinstance(block, Bullets):
            lines.append(f"{block.title}:")
            lines.extend(f"  • {item}" for item in block.items or (block.empty,))
        elif isinstance(block, Actions):
            labels = []
            for button in block.buttons:
                buttons.append(button)
                labels.append(f"[{first_button + len(buttons) - 1}] {button.label}")
            lines.append("  ".join(labels))
        elif isinstance(block, Context):
            lines.append(f"({block.text})")
    # Outside text is escaped for the terminal's markup (rich), here and only here.
    return Rendered(tuple(render_text(line, ours=lambda piece: resolve_mentions(piece, name_for),
                                      theirs=escape) for line in lines), tuple(buttons))
