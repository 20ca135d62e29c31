"""The chat platforms `oscbot run` serves, found by the name app.yaml's `team.chat` gives
them (and `console`, which stands in when a platform has no credentials).

`handlers.http.platforms.<name>` declares how platform `<name>` is built:
`build(settings: Settings, *, clock: Clock) -> ChatPlatform | None`, where None means its
credentials are not set. A new platform is a new module here (with its code in its own
folder under `handlers/`) and its name in `bot.config.model.TeamConfig.chat`; nothing
else changes. Modules are imported by name only when chosen, so a platform's SDK is
loaded only by the teams on it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Protocol, get_args

from fastapi import FastAPI

from bot.config.model import AppConfig, TeamConfig
from bot.config.settings import Settings
from bot.context import AppContext
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock

CONSOLE = "console"
PLATFORMS = (*get_args(TeamConfig.model_fields["chat"].annotation), CONSOLE)


class ChatPlatform(Protocol):
    """A chat platform as `oscbot run` serves it: the port the outbox sends through, the
    doors it mounts on the HTTP app, and what it opens and closes with the server."""

    def chat(self, config: AppConfig) -> ChatPort:
        """The team's chat port."""
        ...

    def mount(self, ctx: AppContext, api: FastAPI) -> None:
        """Check the platform against the team, then mount its doors on the HTTP app."""
        ...

    async def start(self) -> None:
        """Get ready to receive and send, before the scheduler and delivery start."""
        ...

    async def listen(self) -> None:
        """Open what reaches out to the platform for events, once delivery runs."""
        ...

    async def stop(self) -> None:
        """Close what `listen` opened, after delivery has drained."""
        ...


def platform_module(name: str) -> ModuleType:
    """The module of a chat platform; ValueError for a name no platform has."""
    if name not in PLATFORMS:
        raise ValueError(f"no chat platform {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def chat_platform(name: str, settings: Settings, *, clock: Clock) -> ChatPlatform:
    """The chat platform `name` built from the settings; the console when that platform's
    credentials are not set, so oscbot can be tried before any chat app exists."""
    platform: ChatPlatform | None = platform_module(name).build(settings, clock=clock)
    if platform is None:
        platform = platform_module(CONSOLE).build(settings, clock=clock)
    assert platform is not None
    return platform
