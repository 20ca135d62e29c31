"""The routing adapters, found by the name app.yaml gives them.

`routing.<name>` is the module of adapter `<name>`, and it declares how the adapter is
built: `build(setup: RoutingSetup) -> RoutingAdapter | None`, where None means its
credentials are not in the environment. A new adapter is a new module here (and its
name among the channel's adapters in `bot.config.loader.KNOWN_ADAPTERS`, which
`oscbot check` holds app.yaml to); nothing else changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from bot.config.loader import KNOWN_ADAPTERS
from bot.config.model import AppConfig
from bot.ports.clock import Clock
from bot.ports.routing import CrmClient, RecordMoveRepository, RouteRepository, RoutingAdapter
from bot.routing.crm_handover import CrmRouting
from routing.manual import ManualRouting

if TYPE_CHECKING:
    from m365.graph import GraphClient

CHANNELS = ("leads", "email", "calls")


@dataclass(frozen=True)
class RoutingSetup:
    """What an adapter is built from: the channel it switches, its settings in app.yaml,
    the environment (secrets live there, never in app.yaml) and the ports it may use."""

    channel: str
    settings: Mapping[str, str]
    env: Mapping[str, str]
    routes: RouteRepository
    moves: RecordMoveRepository
    clock: Clock
    # The one Graph client calendars and routing share (None without Graph credentials).
    graph: Callable[[], GraphClient | None]


def adapter_module(name: str) -> ModuleType:
    """The module of a routing adapter known to app.yaml; ValueError for any other name."""
    if not any(name in names for names in KNOWN_ADAPTERS.values()):
        raise ValueError(f"no routing adapter {name!r}")
    return importlib.import_module(f"routing.{name}")


def build_adapter(name: str, setup: RoutingSetup) -> RoutingAdapter:
    """The adapter `name` for one channel; a manual step when its credentials are missing,
    so a person is asked to do the switch rather than traffic silently staying put
    (`oscbot check` names the missing variable)."""
    adapter: RoutingAdapter | None = adapter_module(name).build(setup)
    return adapter or ManualRouting(channel=setup.channel, settings=setup.settings)


def routing_adapters(config: AppConfig, *, routes: RouteRepository,
                     moves: RecordMoveRepository, clock: Clock, env: Mapping[str, str],
                     graph: Callable[[], GraphClient | None]) -> dict[str, RoutingAdapter]:
    """The adapter of every routing channel, as app.yaml chooses."""
    return {channel: build_adapter(getattr(config.routing, channel).adapter, RoutingSetup(
        channel=channel, settings=getattr(config.routing, channel).settings, env=env,
        routes=routes, moves=moves, clock=clock, graph=graph)) for channel in CHANNELS}


def crm_routing(setup: RoutingSetup, crm: CrmClient) -> CrmRouting:
    """A CRM's lead channel: records moved one by one, as the core's hand-over rules say."""
    return CrmRouting(crm=crm, routes=setup.routes, moves=setup.moves, clock=setup.clock,
                      channel=setup.channel, keep_new_leads_with_backup=setup.settings.get(
                          "keep_new_leads_with_backup", "false").lower() == "true")


def google_delegated(key_file: str, scopes: tuple[str, ...], subject: str) -> object:
    """Service-account credentials acting as `subject` (domain-wide delegation)."""
    from google.oauth2 import service_account

    base = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        key_file, scopes=list(scopes))
    return base.with_subject(subject)
