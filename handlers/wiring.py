"""The composition root: wires config, storage, chat, calendars and routing together."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.calendar.sync import CalendarSyncService
from bot.config.model import AppConfig
from bot.context import AppContext
from bot.coverage.service import CoverageService
from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.delivery.settings import delivery_settings
from bot.leads.service import LeadService
from bot.ports.calendars import CalendarSource
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from bot.ports.repositories import Repositories
from bot.ports.routing import CrmClient, RoutingAdapter
from bot.routing.crm_handover import CrmRouting
from bot.routing.engine import RoutingEngine
from routing.builtin import BuiltinRouting
from routing.manual import ManualRouting

if TYPE_CHECKING:
    from m365.graph import GraphClient


# Adapters that speak Microsoft Graph: each module's class declares `from_settings`.
GRAPH_ROUTING = {"m365_group": ("routing.m365_group", "M365GroupRouting"),
                 "outlook_rule": ("routing.outlook_rule", "OutlookRuleRouting")}


def routing_adapters(config: AppConfig, repos: Repositories,
                     env: Mapping[str, str] | None = None, *,
                     clock: Clock, graph: GraphClient | None = None
                     ) -> dict[str, RoutingAdapter]:
    """The adapter per routing channel as app.yaml chooses; secrets come from `env`.

    An adapter whose credentials are missing falls back to the manual adapter, so a
    person is asked to do the step and confirm it rather than traffic silently staying
    put (`oscbot check` reports the missing variable).
    """
    env = env or {}
    adapters: dict[str, RoutingAdapter] = {}
    if graph is None and any(getattr(config.routing, c).adapter in GRAPH_ROUTING
                             for c in ("leads", "email", "calls")):
        from m365.graph import graph_client_from_env

        graph = graph_client_from_env(env)
    for channel in ("leads", "email", "calls"):
        choice = getattr(config.routing, channel)
        crm = _crm_client(choice.adapter, choice.settings, env)
        if choice.adapter == "builtin":
            adapters[channel] = BuiltinRouting(channel=channel, routes=repos.routes)
        elif crm is not None:
            adapters[channel] = CrmRouting(
                crm=crm, routes=repos.routes, moves=repos.moves, clock=clock,
                channel=channel, keep_new_leads_with_backup=choice.settings.get(
                    "keep_new_leads_with_backup", "false").lower() == "true")
        elif choice.adapter == "callrail" and env.get("CALLRAIL_API_KEY"):
            from routing.callrail import CallRailRouting

            adapters[channel] = CallRailRouting(
                api_key=env["CALLRAIL_API_KEY"],
                account_id=choice.settings.get("account_id", ""),
                base_url=choice.settings.get("base_url", "https://api.callrail.com/v3"))
        elif choice.adapter in ("google_group", "gmail_filter") and env.get(
                "GOOGLE_APPLICATION_CREDENTIALS"):
            adapters[channel] = _google_email(choice.adapter, choice.settings,
                                              Path(env["GOOGLE_APPLICATION_CREDENTIALS"]))
        elif choice.adapter in GRAPH_ROUTING and graph is not None:
            module, name = GRAPH_ROUTING[choice.adapter]
            factory = getattr(importlib.import_module(module), name)
            adapters[channel] = factory.from_settings(choice.settings, graph)
        elif (choice.adapter == "twilio" and env.get("TWILIO_ACCOUNT_SID")
              and env.get("TWILIO_AUTH_TOKEN")):
            from routing.twilio import TwilioRouting

            adapters[channel] = TwilioRouting(
                routes=repos.routes, account_sid=env["TWILIO_ACCOUNT_SID"],
                auth_token=env["TWILIO_AUTH_TOKEN"],
                webhook_url=choice.settings.get("webhook_url", ""))
        else:
            adapters[channel] = ManualRouting(channel=channel, settings=choice.settings)
    return adapters


def _crm_client(adapter: str, settings: Mapping[str, str],
                env: Mapping[str, str]) -> CrmClient | None:
    """The CRM client app.yaml asks for, when its credentials are in the environment."""
    if adapter == "hubspot" and env.get("HUBSPOT_ACCESS_TOKEN"):
        from routing.hubspot import HubSpotCrm

        return HubSpotCrm(access_token=env["HUBSPOT_ACCESS_TOKEN"],
                          lead_object=settings.get("lead_object", "contacts"),
                          host=settings.get("base_url"))
    if adapter == "salesforce" and (env.get("SALESFORCE_ACCESS_TOKEN")
                                    or env.get("SALESFORCE_PASSWORD")):
        from routing.salesforce import SalesforceCrm

        return SalesforceCrm(
            instance_url=env.get("SALESFORCE_INSTANCE_URL", ""),
            access_token=env.get("SALESFORCE_ACCESS_TOKEN", ""),
            username=env.get("SALESFORCE_USERNAME", ""),
            password=env.get("SALESFORCE_PASSWORD", ""),
            security_token=env.get("SALESFORCE_SECURITY_TOKEN", ""),
            lead_object=settings.get("lead_object", "Lead"))
    if adapter == "lasso" and env.get("LASSO_API_KEY"):
        from routing.lasso import DEFAULT_URL, LassoCrm

        return LassoCrm(api_key=env["LASSO_API_KEY"],
                        base_url=settings.get("base_url", DEFAULT_URL))
    return None


def _google_email(adapter: str, settings: Mapping[str, str], key: Path) -> RoutingAdapter:
    """Google Group or Gmail filter email routing, with delegated service-account access."""
    from google.oauth2 import service_account

    def delegated(scopes: tuple[str, ...], subject: str) -> object:
        base = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(key), scopes=list(scopes))
        return base.with_subject(subject)

    if adapter == "google_group":
        from routing.google_groups import SCOPE, GoogleGroupRouting

        return GoogleGroupRouting(
            credentials=delegated((SCOPE,), settings.get("admin_email", "")))
    from routing.gmail_filter import SCOPES, GmailFilterRouting

    return GmailFilterRouting(
        credentials_for=lambda email: delegated(SCOPES, email),
        lead_senders=[s for s in settings.get("lead_senders", "").split(",") if s.strip()])


def calendar_sources(config: AppConfig, *, base: Path, google_key: Path | None = None,
                     graph: GraphClient | None = None) -> dict[str, CalendarSource]:
    """A calendar source for every OSC: their ICS file or URL, their Google calendar
    (read as them through the service account in `google_key`), or their Outlook
    calendar (read as the app through Microsoft Graph)."""
    from calendars.ics import IcsSource

    sources: dict[str, CalendarSource] = {}
    for osc in config.oscs:
        if osc.calendar is None:
            continue
        zone = config.zone_of(osc.email)
        if osc.calendar.ics:
            location = osc.calendar.ics
            if "://" not in location and not Path(location).is_absolute():
                location = str(base / location)
            sources[osc.email] = IcsSource(location, time_zone=zone, policies=config.policies)
        elif osc.calendar.google and google_key is not None:
            from calendars.google import GoogleCalendarSource, delegated_credentials

            sources[osc.email] = GoogleCalendarSource(
                calendar_id=osc.calendar.google, time_zone=zone, policies=config.policies,
                credentials=delegated_credentials(google_key, subject=osc.email))
        elif osc.calendar.outlook and graph is not None:
            from calendars.outlook import OutlookCalendarSource

            sources[osc.email] = OutlookCalendarSource(
                client=graph, mailbox=osc.calendar.outlook, time_zone=zone,
                policies=config.policies)
    return sources


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
    return AppContext(
        config=config, repos=repos, clock=clock, chat=chat, notifier=notifier, engine=engine,
        coverage=coverage,
        leads=LeadService(config=config, repos=repos, clock=clock, notifier=notifier),
        calendars=CalendarSyncService(coverage=coverage, sources=sources),
        # With `sleep` (the console and tests, on a clock that cannot wait) delivery is
        # unpaced and in one thread, so transcripts come out in a stable order.
        delivery=OutboxDelivery(
            outbox=repos.outbox, chat=chat, clock=clock,
            per_channel_interval=timedelta(0) if sleep else settings.interval,
            workers=1 if sleep else settings.workers, retry_for=settings.retry_for,
            on_failed=lambda item: notifier.failed_delivery(item, managers=config.team.managers)),
    )


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
    ctx = build_context(config=config, repos=repos, clock=clock, chat=make_chat(config),
                        sources=calendar_sources(config, base=config_path.resolve().parent,
                                                 google_key=google_key, graph=graph),
                        env=env, graph=graph)
    ctx.public_url = public_url
    return ctx
