"""A chat port that prints to the terminal, remembering buttons by number."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console
from rich.panel import Panel

from bot.messages import Button, Message
from bot.ports.chat import MessageRef
from handlers.console.render import render


@dataclass(frozen=True)
class PressableButton:
    """A button shown on screen, with where it was shown."""

    number: int
    button: Button
    ref: MessageRef


class ConsoleChat:
    """ChatPort for a terminal: channel posts, DMs and edits as panels."""

    def __init__(self, *, console: Console, name_for: Callable[[str], str],
                 stamp: Callable[[], str] = lambda: "") -> None:
        self._console = console
        self._name_for = name_for
        self._stamp = stamp
        self._count = 0
        self._shown: dict[str, tuple[str, ...]] = {}
        self.buttons: dict[int, PressableButton] = {}
        self._keys: dict[str, MessageRef] = {}

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """Print a channel post."""
        return self._show(channel, f"{channel}", message, style="cyan", key=key)

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """Print a DM."""
        return self._show(f"dm:{email}", f"DM to {self._name_for(email)}", message,
                          style="magenta", key=key)

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """A message printed earlier under this key (a terminal keeps its scrollback)."""
        ref = self._keys.get(key)
        target = channel if channel is not None else f"dm:{email}"
        return ref if ref is not None and ref.channel == target else None

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """Print what changed in an earlier message (a chat app edits it in place)."""
        self._print(ref, f"{ref.channel} · message #{ref.id} edited — changed lines",
                    message, style="yellow", changes_only=True)

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """Say that a file was shared (a terminal cannot show the image)."""
        self._count += 1
        self._console.print(f"[cyan]{channel}[/] 📎 {title} ({filename}, "
                            f"{len(content) // 1024 + 1} KB)")
        return MessageRef(channel=channel, id=str(self._count))

    def _show(self, channel: str, title: str, message: Message, *, style: str,
              key: str | None) -> MessageRef:
        self._count += 1
        ref = MessageRef(channel=channel, id=str(self._count))
        if key is not None:
            self._keys[key] = ref
        self._print(ref, f"{title} · message #{ref.id}", message, style=style)
        return ref

    def _print(self, ref: MessageRef, title: str, message: Message, *, style: str,
               changes_only: bool = False) -> None:
        first = len(self.buttons) + 1
        rendered = render(message, name_for=self._name_for, first_button=first)
        for offset, button in enumerate(rendered.buttons):
            self.buttons[first + offset] = PressableButton(first + offset, button, ref)
        lines = rendered.lines
        before = self._shown.get(ref.id, ())
        self._shown[ref.id] = _without_numbers(lines)
        if changes_only:
            lines = tuple(line for line in lines if _without_number(line) not in before)
            if not lines:
                return
        stamp = self._stamp()
        self._console.print(Panel("\n".join(lines), title=title,
                                  subtitle=stamp or None, border_style=style,
                                  title_align="left", expand=False))


_NUMBER = re.compile(r"\[\d+\] ")


def _without_number(line: str) -> str:
    return _NUMBER.sub("[] ", line)


def _without_numbers(lines: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_without_number(line) for line in lines)
