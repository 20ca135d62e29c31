"""`oscbot run`: one process serving HTTP (Slack, lead intake, calendar push, health,
metrics) and running the scheduler; Slack Socket Mode instead of HTTP events when
SLACK_APP_TOKEN is set."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from bot.config import AppConfig
from bot.ports import ChatPort, Clock
from bot.settings import Settings
from handlers.console.shell import console_chat
from handlers.context import production_context
from handlers.http.app import create_app
from schedules.scheduler import build_scheduler

log = logging.getLogger(__name__)


def slack_chat(settings: Settings, token: str) -> Callable[[AppConfig], ChatPort]:
    """The Slack chat port for the team (ids from app.yaml, others looked up by email)."""
    from handlers.slack.chat import SlackChat

    def make(config: AppConfig) -> ChatPort:
        return SlackChat(token=token, api_url=settings.slack_api_url,
                         names={p.email: p.name for p in config.people},
                         user_ids={p.email: p.chat.slack for p in config.people if p.chat.slack})

    return make


def serve(settings: Settings, *, clock: Clock) -> None:
    """Run until interrupted."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if not token:
        log.warning("SLACK_BOT_TOKEN is not set: messages are printed to this console")
    ctx = production_context(
        config_path=settings.config_path, database_url=settings.database_url,
        env=dict(os.environ), clock=clock,
        make_chat=slack_chat(settings, token) if token else console_chat(Console()),
        google_key=settings.google_application_credentials, public_url=settings.public_url)
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    slack_app = None
    if token and (settings.slack_signing_secret or app_token):
        from handlers.slack.app import build_slack_app

        signing = settings.slack_signing_secret
        slack_app = build_slack_app(ctx, token=token, api_url=settings.slack_api_url,
                                    signing_secret=signing.get_secret_value() if signing else "")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler = build_scheduler(ctx)
        scheduler.start()
        socket = None
        if app_token and slack_app is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(slack_app, app_token)
            await socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack Socket Mode connected")
        try:
            yield
        finally:
            scheduler.shutdown(wait=False)
            if socket is not None:
                await socket.close_async()  # type: ignore[no-untyped-call]

    secret = settings.lead_webhook_secret
    app = create_app(ctx, lead_secret=secret.get_secret_value() if secret else None,
                     slack=None if app_token else slack_app)
    app.router.lifespan_context = lifespan
    uvicorn.run(app, host="0.0.0.0", port=settings.port, log_level="info")
