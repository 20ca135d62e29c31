"""`oscbot run`: one process serving HTTP (Slack, lead intake, calendar push, health,
metrics) and running the scheduler; Slack Socket Mode instead of HTTP events when
SLACK_APP_TOKEN is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from bot.config.model import AppConfig
from bot.config.settings import Settings, configure_logging
from bot.context import AppContext
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from handlers.console.shell import console_chat
from handlers.http.app import Metrics, create_app
from handlers.http.readiness import Readiness
from handlers.logs import install_log_scrubbing
from handlers.wiring import production_context
from schedules.scheduler import build_scheduler, parse_job_every
from storage.single_writer import hold_sqlite

# Seconds a stopping replica gives its sends in flight; well under the 60 s lease.
SHUTDOWN_GRACE = 20.0

log = logging.getLogger(__name__)


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


def chat_platform(factories: Mapping[str, Callable[[AppConfig], ChatPort]],
                  ) -> Callable[[AppConfig], ChatPort]:
    """The chat port app.yaml's `team.chat` names, from one registry of platforms."""
    def make(config: AppConfig) -> ChatPort:
        return factories[config.team.chat](config)

    return make


def _teams() -> Any:
    # Imported only when a team is on Teams: the SDK is large and Slack teams never need it.
    from handlers.teams import platform

    return platform


class _DrainingServer(uvicorn.Server):
    """uvicorn, but SIGTERM is the ordinary way to stop: drain, then exit 0 (uvicorn
    would raise the signal again on the way out, and the process would die of it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM by shutting down gracefully; never re-raise them."""
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _check_team_channel(ctx: AppContext) -> None:
    """Resolve the team channel to its id now and say plainly when oscbot is not in it."""
    from handlers.slack.chat import SlackChat

    if isinstance(ctx.chat, SlackChat):
        problem = ctx.chat.channel_problem(ctx.config.team.channel)
        if problem:
            log.error("%s", problem)
        else:
            log.info("team channel %s found", ctx.config.team.channel)


def serve(settings: Settings, *, clock: Clock) -> None:
    """Run until interrupted."""
    configure_logging(settings.log_level)
    install_log_scrubbing()
    token: str | Callable[[], str] | None = (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None)
    oauth = (settings.slack_client_id and settings.slack_client_secret and not token
             and settings.slack_signing_secret)
    if oauth:
        from handlers.slack.install import InstalledBotToken
        from storage.engine import engine_from_url

        token = InstalledBotToken(engine=engine_from_url(settings.database_url),
                                  client_id=settings.slack_client_id or "", team_id=None)
    def console(config: AppConfig) -> ChatPort:
        log.warning("SLACK_BOT_TOKEN is not set: messages are printed to this console")
        return console_chat(Console())(config)

    job_every = parse_job_every(settings.job_every)
    # Before anything else: a second `oscbot run` on one SQLite file stops here.
    single_writer = hold_sqlite(settings.database_url)
    ctx = production_context(
        config_path=settings.config_path, database_url=settings.database_url,
        env=dict(os.environ), clock=clock,
        make_chat=chat_platform({
            "slack": slack_chat(settings, token) if token else console,
            "teams": lambda config: _teams().teams_chat(settings, clock=clock)(config)}),
        google_key=settings.google_application_credentials, public_url=settings.public_url)
    if isinstance(token, str):
        _check_team_channel(ctx)
    if oauth and ctx.config.team.slack_team_id:
        assert isinstance(token, InstalledBotToken)
        token.team_id = ctx.config.team.slack_team_id
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    slack_app = None
    install = None
    if oauth:
        from handlers.slack.install import OAuthInstall

        secret_value = settings.slack_client_secret
        install = OAuthInstall(
            ctx, client_id=settings.slack_client_id or "",
            client_secret=secret_value.get_secret_value() if secret_value else "",
            signing_secret=settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret else "",
            api_url=settings.slack_api_url, database_url=settings.database_url,
            redirect_uri=f"{settings.public_url.rstrip('/')}/slack/oauth_redirect"
            if settings.public_url else None)
        slack_app = install.app
    elif isinstance(token, str) and (settings.slack_signing_secret or app_token):
        from handlers.slack.app import build_slack_app

        signing = settings.slack_signing_secret
        slack_app = build_slack_app(ctx, token=token, api_url=settings.slack_api_url,
                                    signing_secret=signing.get_secret_value() if signing else "")

    stop_delivery = threading.Event()
    deliverer = threading.Thread(
        target=ctx.delivery.run, args=(stop_delivery,),
        kwargs={"grace": SHUTDOWN_GRACE}, name="delivery", daemon=True)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if install is not None:
            await install.create_tables()
        if teams is not None:
            await teams.start()
        scheduler = build_scheduler(
            ctx, on_run=lambda job, outcome: metrics.jobs.labels(job, outcome).inc(),
            every=job_every, stopping=stop_delivery)
        scheduler.start()
        deliverer.start()
        readiness.scheduler = scheduler
        socket = None
        if app_token and slack_app is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(slack_app, app_token)
            await socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack Socket Mode connected")
        try:
            yield
        finally:
            # SIGTERM: stop claiming, finish the sends in flight within the grace period
            # (shorter than a lease, so nothing is left for a takeover to double).
            readiness.stopping = True
            stop_delivery.set()
            scheduler.shutdown(wait=False)
            await asyncio.to_thread(deliverer.join, SHUTDOWN_GRACE)
            if socket is not None:
                await socket.close_async()  # type: ignore[no-untyped-call]

    secret = settings.lead_webhook_secret
    metrics = Metrics()
    readiness = Readiness(database_url=settings.database_url)
    app = create_app(ctx, lead_secret=secret.get_secret_value() if secret else None,
                     slack=None if app_token else slack_app, metrics=metrics,
                     twilio_token=os.environ.get("TWILIO_AUTH_TOKEN"), readiness=readiness)
    teams = (_teams().mount_teams(ctx, app, settings) if ctx.config.team.chat == "teams"
             else None)
    app.router.lifespan_context = lifespan
    server = _DrainingServer(uvicorn.Config(
        app, host="0.0.0.0", port=settings.port, log_level=settings.log_level.lower(),
        log_config=None, timeout_graceful_shutdown=int(SHUTDOWN_GRACE)))
    server.run()
    if single_writer is not None:
        single_writer.close()
    # A job still running (a long lead sweep) would hold the interpreter, which joins the
    # scheduler's threads at exit, well past the grace period. Its work is transactional
    # and the next tick redoes it, as after a crash: leave now.
    logging.shutdown()
    os._exit(0 if server.started else 1)
