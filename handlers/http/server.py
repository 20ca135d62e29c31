"""`oscbot run`: one process serving HTTP (the chat platform, lead intake, calendar push,
health, metrics) and running the scheduler and delivery; Slack Socket Mode instead of
HTTP events when SLACK_APP_TOKEN is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import IO, NoReturn

import uvicorn
from fastapi import FastAPI

from bot.config.model import AppConfig
from bot.config.settings import Settings, configure_logging
from bot.context import AppContext
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from handlers.http.app import Metrics, create_app
from handlers.http.platforms import ChatPlatform, chat_platform
from handlers.http.readiness import Readiness
from handlers.logs import install_log_scrubbing
from handlers.wiring import production_context
from schedules.scheduler import build_scheduler, parse_job_every
from storage.single_writer import hold_sqlite

# Seconds a stopping replica gives its sends in flight; well under the 60 s lease.
SHUTDOWN_GRACE = 20.0

def serve(settings: Settings, *, clock: Clock) -> None:
    """Serve until SIGTERM or SIGINT, drain, and end the process."""
    configure_logging(settings.log_level)
    install_log_scrubbing()
    job_every = parse_job_every(settings.job_every)
    # Before anything else: a second `oscbot run` on one SQLite file stops here.
    single_writer = hold_sqlite(settings.database_url)
    ctx, platform = _run_context(settings, clock=clock)
    metrics = Metrics()
    readiness = Readiness(database_url=settings.database_url)
    workers = _Workers(ctx, metrics=metrics, readiness=readiness, every=job_every)
    app = _http_app(ctx, settings, platform, metrics=metrics, readiness=readiness)
    app.router.lifespan_context = _lifespan(platform, workers)
    _leave(started=_run_server(app, settings), single_writer=single_writer)


def _run_context(settings: Settings, *, clock: Clock) -> tuple[AppContext, ChatPlatform]:
    """The services, their chat port from the platform app.yaml's `team.chat` names; and
    that platform."""
    # app.yaml is read inside production_context: the platform is chosen once it is.
    chosen: list[ChatPlatform] = []

    def make_chat(config: AppConfig) -> ChatPort:
        chosen.append(chat_platform(config.team.chat, settings, clock=clock))
        return chosen[0].chat(config)

    ctx = production_context(
        config_path=settings.config_path, database_url=settings.database_url,
        env=dict(os.environ), clock=clock, make_chat=make_chat,
        google_key=settings.google_application_credentials, public_url=settings.public_url)
    return ctx, chosen[0]


def _http_app(ctx: AppContext, settings: Settings, platform: ChatPlatform, *,
              metrics: Metrics, readiness: Readiness) -> FastAPI:
    """The HTTP app with every door: health, readiness, metrics, lead intake, calendar
    push, voice, and the chat platform's own."""
    secret = settings.lead_webhook_secret
    app = create_app(ctx, lead_secret=secret.get_secret_value() if secret else None,
                     metrics=metrics, twilio_token=os.environ.get("TWILIO_AUTH_TOKEN"),
                     readiness=readiness)
    platform.mount(ctx, app)
    return app


class _Workers:
    """The scheduler and the delivery thread: started with the server, drained when it
    stops."""

    def __init__(self, ctx: AppContext, *, metrics: Metrics, readiness: Readiness,
                 every: Mapping[str, timedelta]) -> None:
        self._ctx = ctx
        self._metrics = metrics
        self._readiness = readiness
        self._every = every
        self._stopping = threading.Event()
        self._deliverer = threading.Thread(
            target=ctx.delivery.run, args=(self._stopping,),
            kwargs={"grace": SHUTDOWN_GRACE}, name="delivery", daemon=True)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the scheduler and delivery until the server stops."""
        scheduler = build_scheduler(
            self._ctx, on_run=lambda job, outcome: self._metrics.jobs.labels(job, outcome).inc(),
            every=self._every, stopping=self._stopping)
        scheduler.start()
        self._deliverer.start()
        self._readiness.scheduler = scheduler
        try:
            yield
        finally:
            # SIGTERM: stop claiming, finish the sends in flight within the grace period
            # (shorter than a lease, so nothing is left for a takeover to double).
            self._readiness.stopping = True
            self._stopping.set()
            scheduler.shutdown(wait=False)
            await asyncio.to_thread(self._deliverer.join, SHUTDOWN_GRACE)


def _lifespan(platform: ChatPlatform, workers: _Workers,
              ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The server's lifespan: the platform gets ready, the workers run, the platform
    listens; in reverse on the way out."""
    @asynccontextmanager
    async def span(_: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        try:
            async with workers.running():
                await platform.listen()
                yield
        finally:
            await platform.stop()

    return span


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


def _run_server(app: FastAPI, settings: Settings) -> bool:
    """Serve `app` until SIGTERM or SIGINT, giving requests in flight the grace period;
    whether the server started at all."""
    server = _DrainingServer(uvicorn.Config(
        app, host="0.0.0.0", port=settings.port, log_level=settings.log_level.lower(),
        log_config=None, timeout_graceful_shutdown=int(SHUTDOWN_GRACE)))
    server.run()
    return server.started


def _leave(*, started: bool, single_writer: IO[str] | None) -> NoReturn:
    """Release the SQLite file and end the process: 0 after a clean stop, 1 when the server
    never started."""
    if single_writer is not None:
        single_writer.close()
    # A job still running (a long lead sweep) would hold the interpreter, which joins the
    # scheduler's threads at exit, well past the grace period. Its work is transactional
    # and the next tick redoes it, as after a crash: leave now.
    logging.shutdown()
    os._exit(0 if started else 1)
