"""The builtin adapter: oscbot's own routing table decides who gets an OSC's traffic.

Used for leads that arrive through oscbot's intake, and for Twilio calls, whose
voice webhook asks the same table who to dial.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config.model import PersonConfig
from bot.model import CoverageMode, RoutingState
from bot.ports.routing import RouteRepository

if TYPE_CHECKING:
    from routing.setup import RoutingSetup


class BuiltinRouting:
    """Switches a channel by writing oscbot's route table."""

    name = "builtin"

    def __init__(self, *, channel: str, routes: RouteRepository) -> None:
        self._channel = channel
        self._routes = routes

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """Who receives the OSC's traffic now."""
        target = self._routes.get(osc_email=osc.email, channel=self._channel)
        return RoutingState(self._channel, target or osc.email)

    def switch(
        self, *, osc: PersonConfig, backup: PersonConfig, mode: CoverageMode
    ) -> RoutingState:
        """Send the OSC's traffic to the backup."""
        self._routes.set(osc_email=osc.email, channel=self._channel, target=backup.email)
        return self.read(osc=osc)

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Put the route back as the snapshot had it."""
        target = None if snapshot.target == osc.email else snapshot.target
        self._routes.set(osc_email=osc.email, channel=self._channel, target=target)
        return self.read(osc=osc)

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Nothing external to check; the table is always reachable."""
        return []


def build(setup: RoutingSetup) -> BuiltinRouting:
    """oscbot's own route table for the channel."""
    return BuiltinRouting(channel=setup.channel, routes=setup.routes)
