"""The composition root: app.yaml, the environment and storage become the services every
way in and every job receives.

Adapters are found by the names app.yaml gives them (`routing.registry`,
`calendars.registry`); the chat platform is chosen by the caller (`oscbot run`, the
shell, the demo, tests). Nothing else in the project builds a service.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.calendar.sync import CalendarSyncService
from bot.config.model import AppConfig
from bot.context import AppContext
from bot.coverage.service import CoverageService
from bot.delivery.admin import OutboxAdmin
from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.inbound import InboundDedupe
from bot.delivery.notify import Notifier
from bot.delivery.settings import delivery_settings
from bot.jobs.isolation import ItemGuard
from bot.jobs.slots import JobSlots
from bot.leads.service import LeadService
from bot.ports.calendars import CalendarPush, CalendarSource
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from bot.ports.reports import ChartRenderer
from bot.ports.repositories import Repositories
from bot.ports.routing import RoutingAdapter
from bot.reports.service import ReportService
from bot.routing.engine import RoutingEngine
from calendars import registry as calendar_registry
from routing import registry as routing_registry

if TYPE_CHECKING:
    from m365.graph import GraphClient


def routing_adapters(config: AppConfig, repos: Repositories,
                     env: Mapping[str, str] | None = None, *, clock: Clock,
                     graph: GraphClient | None = None) -> dict[str, RoutingAdapter]:
    """The adapter per routing channel as app.yaml chooses; secrets come from `env`.

    An adapter whose credentials are missing falls back to the manual adapter, so a
    person is asked to do the step and confirm it rather than traffic silently staying
    put (`oscbot check` reports the missing variable).
    """
    env = env or {}
    return routing_registry.routing_adapters(
        config, routes=repos.routes, moves=repos.moves, clock=clock, env=env,
        graph=(lambda: graph) if graph is not None else _graph_from(env))


def calendar_sources(config: AppConfig, *, base: Path, google_key: Path | None = None,
                     graph: GraphClient | None = None) -> dict[str, CalendarSource]:
    """A calendar source for every OSC: their ICS file or URL, their Google calendar
    (read as them through the service account in `google_key`), or their Outlook
    calendar (read as the app through Microsoft Graph)."""
    return calendar_registry.calendar_sources(config, base=base, google_key=google_key,
                                              graph=lambda: graph)


def _graph_from(env: Mapping[str, str]) -> Callable[[], GraphClient | None]:
    """The Graph client from the environment, built on first use (only adapters that
    speak Graph ask for it)."""
    @functools.cache
    def graph() -> GraphClient | None:
        from m365.graph import graph_client_from_env

        return graph_client_from_env(env)

    return graph


def _charts() -> ChartRenderer:
    from handlers.reports import MatplotlibCharts

    return MatplotlibCharts()


def build_context(
    *,
    config: AppConfig,
    repos: Repositories,
    clock: Clock,
    chat: ChatPort,
    sources: Mapping[str, CalendarSource],
    adapters: Mapping[str, RoutingAdapter] | None = None,
    sleep: Callable[[float], None] | None = None,
    env: Mapping[str, str] | None = None,
    graph: GraphClient | None = None,
    charts: ChartRenderer | None = None,
    public_url: str | None = None,
) -> AppContext:
    """Build the services around the given ports."""
    notifier = Notifier(outbox=repos.outbox, clock=clock, channel=config.team.channel)
    # Teams paces each thread itself (7/s, 60 per 30 s); the 1 s gap is Slack's limit.
    settings = delivery_settings(env or {}, interval_ms=0 if config.team.chat == "teams"
                                 else 1000)
    engine = RoutingEngine(adapters=adapters or routing_adapters(config, repos, env, clock=clock,
                                                                 graph=graph),
                           switches=repos.switches, audit=repos.audit, clock=clock)
    coverage = CoverageService(config=config, repos=repos, clock=clock, engine=engine,
                               notifier=notifier)
    calendars = CalendarSyncService(coverage=coverage, sources=sources)
    # With `sleep` (the console and tests, on a clock that cannot wait) delivery is
    # unpaced and in one thread, so transcripts come out in a stable order.
    delivery = OutboxDelivery(
        outbox=repos.outbox, chat=chat, clock=clock,
        per_channel_interval=timedelta(0) if sleep else settings.interval,
        workers=1 if sleep else settings.workers, retry_for=settings.retry_for,
        on_failed=lambda item: notifier.failed_delivery(item, managers=config.team.managers))
    return AppContext(
        config=config, clock=clock, chat=chat, notifier=notifier, coverage=coverage,
        leads=LeadService(config=config, repos=repos, clock=clock, notifier=notifier),
        calendars=calendars, delivery=delivery,
        reports=ReportService(config=config, repos=repos, clock=clock, notifier=notifier,
                              chat=chat, charts=charts or _charts()),
        outbox=OutboxAdmin(outbox=repos.outbox, clock=clock),
        inbound=InboundDedupe(events=repos.inbound, clock=clock),
        # The deliverer's id names this replica in job slots and work item leases too.
        slots=JobSlots(runs=repos.job_runs, items=repos.work_items, clock=clock,
                       owner=delivery.owner),
        guard=ItemGuard(audit=repos.audit, notifier=notifier, clock=clock,
                        managers=config.team.managers),
        push=calendar_push(calendars, clock=clock, public_url=public_url),
        public_url=public_url)


def calendar_push(calendars: CalendarSyncService, *, clock: Clock,
                  public_url: str | None) -> dict[str, CalendarPush]:
    """Push notifications for Google and Outlook calendars, when oscbot has a public URL
    for them to reach; without one there is none, and calendars are polled."""
    if not public_url:
        return {}
    from calendars.google_push import GooglePush
    from calendars.outlook_push import OutlookSubscriptions

    return {"google": GooglePush(calendars=calendars, clock=clock, public_url=public_url),
            "outlook": OutlookSubscriptions(calendars=calendars, clock=clock,
                                            public_url=public_url)}


def production_context(*, config_path: Path, database_url: str | None, env: Mapping[str, str],
                       clock: Clock, make_chat: Callable[[AppConfig], ChatPort],
                       google_key: Path | None = None,
                       public_url: str | None = None) -> AppContext:
    """Load app.yaml, migrate and open the database, and build every service."""
    from bot.config.loader import load_config
    from m365.graph import graph_client_from_env
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories

    config = load_config(config_path, env=env)
    upgrade(database_url)
    repos = sql_repositories(engine_from_url(database_url))
    # One Graph client for calendars and routing, so the per-mailbox limit holds for both.
    graph = graph_client_from_env(env)
    return build_context(config=config, repos=repos, clock=clock, chat=make_chat(config),
                         sources=calendar_sources(config, base=config_path.resolve().parent,
                                                  google_key=google_key, graph=graph),
                         env=env, graph=graph, public_url=public_url)


def sql_context(*, config: AppConfig, database_url: str, clock: Clock, chat: ChatPort,
                base: Path) -> tuple[AppContext, Callable[[], None]]:
    """The services on a database of their own, migrated, with app.yaml's calendars and
    unpaced delivery (the demo, on a clock that only moves when told to); and the call that
    closes the database."""
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories

    upgrade(database_url)
    engine = engine_from_url(database_url)
    ctx = build_context(config=config, repos=sql_repositories(engine), clock=clock, chat=chat,
                        sources=calendar_sources(config, base=base), sleep=lambda _: None)
    return ctx, engine.dispose


def outbox_admin(database_url: str | None, *, clock: Clock) -> OutboxAdmin:
    """The outbox of the database at `database_url`, for `oscbot outbox` (nothing else is
    built: the command answers at once)."""
    from storage.engine import engine_from_url
    from storage.outbox import SqlOutbox

    return OutboxAdmin(outbox=SqlOutbox(engine_from_url(database_url)), clock=clock)
