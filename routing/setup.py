"""What a routing adapter is built from, and the pieces several adapters build with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.ports.clock import Clock
from bot.ports.routing import CrmClient, RecordMoveRepository, RouteRepository
from bot.routing.crm_handover import CrmRouting

if TYPE_CHECKING:
    from m365.graph import GraphClient


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
