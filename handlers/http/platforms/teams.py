"""Teams as `oscbot run` serves it, declared over `handlers.teams.platform`: the Teams
chat port, and the Teams SDK at POST /api/messages."""

from __future__ import annotations

from fastapi import FastAPI

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.context import AppContext
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from handlers.teams.app import TeamsApp
from handlers.teams.platform import mount_teams, teams_chat


class TeamsPlatform:
    """Teams for one team: conversation references in the database, the SDK's endpoint."""

    def __init__(self, settings: Settings, *, clock: Clock) -> None:
        self._settings = settings
        self._chat = teams_chat(settings, clock=clock)
        self._bot: TeamsApp | None = None

    def chat(self, config: AppConfig) -> ChatPort:
        """The Teams chat port."""
        return self._chat(config)

    def mount(self, ctx: AppContext, api: FastAPI) -> None:
        """Mount POST /api/messages and wire the unreachable-person alert."""
        self._bot = mount_teams(ctx, api, self._settings)

    async def start(self) -> None:
        """Register the messaging endpoint with the SDK."""
        if self._bot is not None:
            await self._bot.start()

    async def listen(self) -> None:
        """Nothing: Teams reaches oscbot over HTTP."""

    async def stop(self) -> None:
        """Nothing to close."""


def build(settings: Settings, *, clock: Clock) -> TeamsPlatform:
    """Teams, always: missing credentials show up when Teams calls or is called."""
    return TeamsPlatform(settings, clock=clock)
