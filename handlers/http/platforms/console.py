"""The console as `oscbot run`'s chat platform: what would be sent is printed, and
nothing is mounted (a try-out before any chat app is set up)."""

from __future__ import annotations

from fastapi import FastAPI
from rich.console import Console

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.context import AppContext
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from handlers.console.shell import console_chat


class ConsolePlatform:
    """Messages printed to this process's console."""

    def chat(self, config: AppConfig) -> ChatPort:
        """A console chat port that shows people by name."""
        return console_chat(Console())(config)

    def mount(self, ctx: AppContext, api: FastAPI) -> None:
        """Nothing: no one reaches the console over HTTP."""

    async def start(self) -> None:
        """Nothing to prepare."""

    async def listen(self) -> None:
        """Nothing to open."""

    async def stop(self) -> None:
        """Nothing to close."""


def build(settings: Settings, *, clock: Clock) -> ConsolePlatform:
    """The console; it needs no credentials."""
    return ConsolePlatform()
