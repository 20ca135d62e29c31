"""Slack as `oscbot run` serves it: Bolt at /slack/events (and the install pages under
OAuth), or over Socket Mode when SLACK_APP_TOKEN is set. The pieces are
`handlers.slack.platform`'s; without a bot token or an OAuth install there is no Slack,
and the console stands in."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.context import AppContext
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from handlers.http.app import mount_slack
from handlers.slack.platform import (
    bot_token,
    check_team_channel,
    install_app,
    revealed,
    slack_chat,
    socket_mode,
    token_app,
)

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp

    from handlers.slack.install import InstalledBotToken, OAuthInstall

log = logging.getLogger(__name__)


class SlackPlatform:
    """Slack for one team: its chat port, its Bolt app and, under OAuth, the install."""

    def __init__(self, settings: Settings, token: str | InstalledBotToken) -> None:
        self._settings = settings
        self._token = token
        self._app_token = revealed(settings.slack_app_token)
        self._bolt: AsyncApp | None = None
        self._install: OAuthInstall | None = None
        self._socket: AsyncSocketModeHandler | None = None

    def chat(self, config: AppConfig) -> ChatPort:
        """The Slack chat port, calling Slack with the bot token."""
        return slack_chat(self._settings, self._token)(config)

    def mount(self, ctx: AppContext, api: FastAPI) -> None:
        """Check the team channel, build Bolt, and mount it unless Socket Mode carries it."""
        if isinstance(self._token, str):
            check_team_channel(ctx)
            # Bolt needs a signing secret for HTTP, or the app token for Socket Mode.
            if self._settings.slack_signing_secret or self._app_token:
                self._bolt = token_app(ctx, self._settings, self._token)
        else:
            self._install = install_app(ctx, self._settings, self._token)
            self._bolt = self._install.app
        if self._bolt is not None and not self._app_token:
            mount_slack(api, self._bolt)

    async def start(self) -> None:
        """Create the install tables under OAuth (installed tokens are read from them)."""
        if self._install is not None:
            await self._install.create_tables()

    async def listen(self) -> None:
        """Connect Socket Mode when SLACK_APP_TOKEN is set."""
        if self._app_token and self._bolt is not None:
            self._socket = await socket_mode(self._bolt, self._app_token)

    async def stop(self) -> None:
        """Close Socket Mode."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]


def build(settings: Settings, *, clock: Clock) -> SlackPlatform | None:
    """Slack with the bot token or the OAuth install; None when neither is configured."""
    token = bot_token(settings)
    if token is None:
        log.warning("SLACK_BOT_TOKEN is not set: messages are printed to this console")
        return None
    return SlackPlatform(settings, token)
