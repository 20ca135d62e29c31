"""What every way in (chat, HTTP, CLI) and every job receives: the configuration and the
services, built once by the wiring. No repository is reachable from here: a handler or
a job that needs stored data asks a service for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.calendar.sync import CalendarSyncService
from bot.config.model import AppConfig
from bot.coverage.service import CoverageService
from bot.delivery.admin import OutboxAdmin
from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.inbound import InboundDedupe
from bot.delivery.notify import Notifier
from bot.jobs.isolation import ItemGuard
from bot.jobs.slots import JobSlots
from bot.leads.service import LeadService
from bot.ports.calendars import CalendarPush
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from bot.reports.service import ReportService


@dataclass
class AppContext:
    """Everything a handler or job needs, built once."""

    config: AppConfig
    clock: Clock
    chat: ChatPort
    notifier: Notifier
    coverage: CoverageService
    leads: LeadService
    calendars: CalendarSyncService
    delivery: OutboxDelivery
    reports: ReportService
    outbox: OutboxAdmin
    inbound: InboundDedupe
    slots: JobSlots
    # Isolates each item of a job: a failing one is recorded, announced once, skipped.
    guard: ItemGuard
    # Push notifications of calendar changes by kind (`google`, `outlook`); none without
    # a public URL, and calendars are then polled.
    push: Mapping[str, CalendarPush] = field(default_factory=dict)
    public_url: str | None = None
