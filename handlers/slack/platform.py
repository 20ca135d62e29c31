"""How `oscbot run` builds Slack: the bot token (SLACK_BOT_TOKEN, or the one a workspace
installed through OAuth), the chat port, the team channel check, and the Bolt app that
receives commands, over HTTP or Socket Mode.

Bolt, the install stores and the listeners are imported only by the pieces that need
them: a team without Slack credentials runs on the console and never loads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.context import AppContext
from bot.ports.chat import ChatPort

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp

    from handlers.slack.install import InstalledBotToken, OAuthInstall

log = logging.getLogger(__name__)


def revealed(secret: SecretStr | None) -> str | None:
    """A secret setting's value; None when it is unset or empty."""
    return secret.get_secret_value() if secret else None


def oauth_install(settings: Settings) -> bool:
    """Whether workspaces install oscbot through OAuth: a client id and secret and a
    signing secret, and no single bot token."""
    return bool(settings.slack_client_id and settings.slack_client_secret
                and not revealed(settings.slack_bot_token) and settings.slack_signing_secret)


def bot_token(settings: Settings) -> str | InstalledBotToken | None:
    """The token Slack is called with: SLACK_BOT_TOKEN, else the installed workspace's
    (read at each call) under OAuth, else None: there is no Slack to talk to."""
    token = revealed(settings.slack_bot_token)
    if token or not oauth_install(settings):
        return token
    from handlers.slack.install import InstalledBotToken
    from storage.engine import engine_from_url

    return InstalledBotToken(engine=engine_from_url(settings.database_url),
                             client_id=settings.slack_client_id or "", team_id=None)


def slack_chat(settings: Settings,
               token: str | Callable[[], str]) -> Callable[[AppConfig], ChatPort]:
    """The Slack chat port for the team (ids from app.yaml, others looked up by email)."""
    from handlers.slack.chat import SlackChat

    def make(config: AppConfig) -> ChatPort:
        return SlackChat(token=token, api_url=settings.slack_api_url,
                         timeout=settings.slack_timeout,
                         names={p.email: p.name for p in config.people},
                         user_ids={p.email: p.chat.slack for p in config.people if p.chat.slack})

    return make


def check_team_channel(ctx: AppContext) -> None:
    """Resolve the team channel to its id now and say plainly when oscbot is not in it."""
    from handlers.slack.chat import SlackChat

    if isinstance(ctx.chat, SlackChat):
        problem = ctx.chat.channel_problem(ctx.config.team.channel)
        if problem:
            log.error("%s", problem)
        else:
            log.info("team channel %s found", ctx.config.team.channel)


def token_app(ctx: AppContext, settings: Settings, token: str) -> AsyncApp:
    """The Bolt app of a single workspace, calling Slack with `token`."""
    from handlers.slack.app import build_slack_app

    return build_slack_app(ctx, token=token, api_url=settings.slack_api_url,
                           signing_secret=revealed(settings.slack_signing_secret) or "")


def install_app(ctx: AppContext, settings: Settings, token: InstalledBotToken) -> OAuthInstall:
    """The Bolt app in OAuth mode with its install stores; `token` then reads the
    installation of app.yaml's workspace when `team.slack_team_id` pins one."""
    from handlers.slack.install import OAuthInstall

    if ctx.config.team.slack_team_id:
        token.team_id = ctx.config.team.slack_team_id
    public_url = settings.public_url
    return OAuthInstall(
        ctx, client_id=settings.slack_client_id or "",
        client_secret=revealed(settings.slack_client_secret) or "",
        signing_secret=revealed(settings.slack_signing_secret) or "",
        api_url=settings.slack_api_url, database_url=settings.database_url,
        redirect_uri=f"{public_url.rstrip('/')}/slack/oauth_redirect" if public_url else None)


async def socket_mode(app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Connect `app` to Slack over Socket Mode with the app-level token."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    socket = AsyncSocketModeHandler(app, app_token)
    await socket.connect_async()  # type: ignore[no-untyped-call]
    log.info("Slack Socket Mode connected")
    return socket
