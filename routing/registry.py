"""The routing adapters, found by the name app.yaml gives them.

`routing.<name>` is the module of adapter `<name>`, and it declares how the adapter is
built: `build(setup: RoutingSetup) -> RoutingAdapter | None` (see `routing.setup`),
where None means its credentials are not in the environment. A new adapter is a new
module here (and its name among the channel's adapters in
`bot.config.loader.KNOWN_ADAPTERS`, which `oscbot check` holds app.yaml to); nothing
else changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING

from bot.config.loader import KNOWN_ADAPTERS
from bot.config.model import AppConfig
from bot.ports.clock import Clock
from bot.ports.routing import RecordMoveRepository, RouteRepository, RoutingAdapter
from routing.setup import RoutingSetup

if TYPE_CHECKING:
    from m365.graph import GraphClient

CHANNELS = ("leads", "email", "calls")


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
    if adapter is None:
        adapter = adapter_module("manual").build(setup)
    assert adapter is not None
    return adapter


def routing_adapters(config: AppConfig, *, routes: RouteRepository,
                     moves: RecordMoveRepository, clock: Clock, env: Mapping[str, str],
                     graph: Callable[[], GraphClient | None]) -> dict[str, RoutingAdapter]:
    """The adapter of every routing channel, as app.yaml chooses."""
    return {channel: build_adapter(getattr(config.routing, channel).adapter, RoutingSetup(
        channel=channel, settings=getattr(config.routing, channel).settings, env=env,
        routes=routes, moves=moves, clock=clock, graph=graph)) for channel in CHANNELS}


