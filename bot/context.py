"""What every way in (chat, HTTP, CLI) and every job receives: the configuration and the
services, built once by the wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.calendar.sync import CalendarSyncService
from bot.config.model import AppConfig
from bot.coverage.service import CoverageService
from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.leads.service import LeadService
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from bot.ports.repositories import Repositories
from bot.routing.engine import RoutingEngine

if TYPE_CHECKING:
    pass


@dataclass
class AppContext:
    """Everything a handler or job needs, built once."""

    config: AppConfig
    repos: Repositories
    clock: Clock
    chat: ChatPort
    notifier: Notifier
    engine: RoutingEngine
    coverage: CoverageService
    leads: LeadService
    calendars: CalendarSyncService
    delivery: OutboxDelivery
    public_url: str | None = None
