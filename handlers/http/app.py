"""The FastAPI application: health, metrics, and the routers of each feature."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.context import AppContext
from bot.delivery.admin import OutboxAdmin
from bot.ports.delivery import OutboxStatus
from handlers.http.calendar_push import calendar_push_router
from handlers.http.leads import leads_router
from handlers.http.outlook_push import outlook_push_router
from handlers.http.readiness import Readiness
from handlers.http.slack_events import SlackDoor


class Metrics:
    """The Prometheus counters oscbot exposes, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("oscbot_http_requests", "HTTP requests handled",
                                ["route", "status"], registry=self.registry)
        self.jobs = Counter("oscbot_job_runs", "Scheduled job runs", ["job", "outcome"],
                            registry=self.registry)
        self.outbox = Gauge("oscbot_outbox_messages", "Outbox messages by status",
                            ["status"], registry=self.registry)

    def watch_outbox(self, outbox: OutboxAdmin) -> None:
        """Count the outbox by status at every scrape (failed ones stay visible)."""
        def counter(status: str) -> Callable[[], float]:
            return lambda: float(outbox.counts().get(status, 0))

        for status in OutboxStatus:
            self.outbox.labels(status.value).set_function(counter(status.value))


class RequestCounter:
    """Counts requests by route template (never by raw path: ids would explode labels).

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs several milliseconds
    per request under load, which the Slack ack budget cannot spare.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.metrics.requests.labels(route, str(status["code"])).inc()


def create_app(ctx: AppContext, *, lead_secret: str | None, slack: AsyncApp | None = None,
               metrics: Metrics | None = None,
               twilio_token: str | None = None,
               readiness: Readiness | None = None) -> FastAPI:
    """Build the ASGI app around a context."""
    metrics = metrics or Metrics()
    api = FastAPI(title="oscbot", docs_url=None, redoc_url=None, openapi_url=None)
    api.state.ctx = ctx
    api.state.metrics = metrics

    api.add_middleware(RequestCounter, metrics=metrics)
    metrics.watch_outbox(ctx.outbox)

    @api.get("/healthz")
    def healthz() -> dict[str, object]:
        """Liveness plus how many coverages are open."""
        return {"ok": True, "open_coverages": len(ctx.coverage.open_coverages())}

    @api.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready for traffic: database reachable, migrations current, scheduler running."""
        checks = readiness.check() if readiness is not None else {}
        ready = readiness is not None and all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    @api.get("/metrics")
    def prometheus() -> PlainTextResponse:
        """Prometheus exposition."""
        return PlainTextResponse(generate_latest(metrics.registry),
                                 media_type=CONTENT_TYPE_LATEST)

    if lead_secret:
        api.include_router(leads_router(ctx, secret=lead_secret))
    api.include_router(calendar_push_router(ctx))
    api.include_router(outlook_push_router(ctx))
    if twilio_token and ctx.public_url:
        from handlers.http.voice import voice_router  # the Twilio SDK, only when configured

        api.include_router(voice_router(ctx, auth_token=twilio_token,
                                        public_url=ctx.public_url))
    if slack is not None:
        mount_slack(api, slack)
    return api


def mount_slack(api: FastAPI, slack: AsyncApp) -> None:
    """Mount Slack's doors: events at /slack/events, and the install pages when Bolt
    runs in OAuth mode."""
    handler = AsyncSlackRequestHandler(slack)
    # The secret Bolt was built with, so the door and Bolt agree on every request.
    door = SlackDoor(slack, signing_secret=slack._signing_secret)

    @api.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        """Slack events, slash commands and interactivity: capped, signature checked
        before parsing, then handed to Bolt."""
        return await door.handle(request)

    if slack.oauth_flow is not None:
        @api.get("/slack/install")
        async def slack_install(request: Request) -> Response:
            """Start installing oscbot into a workspace (redirects to Slack)."""
            response: Response = await handler.handle(request)
            return response

        @api.get("/slack/oauth_redirect")
        async def slack_oauth_redirect(request: Request) -> Response:
            """Finish the install: exchange the code and store the bot token."""
            response: Response = await handler.handle(request)
            return response
