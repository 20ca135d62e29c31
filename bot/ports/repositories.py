"""The bundle of every repository a service receives."""


from __future__ import annotations

from dataclasses import dataclass

from bot.ports.calendars import CalendarSyncRepository
from bot.ports.delivery import InboundEvents, OutboxRepository, Transactions
from bot.ports.jobs import JobRuns, WorkItems
from bot.ports.records import (
    ActivityRepository,
    AppointmentRepository,
    AuditLog,
    CoverageRepository,
    LeadRepository,
    TaskRepository,
)
from bot.ports.routing import RecordMoveRepository, RouteRepository, RoutingSwitchRepository


@dataclass(frozen=True)
class Repositories:
    """Every repository, passed to services as one bundle."""

    coverages: CoverageRepository
    leads: LeadRepository
    activities: ActivityRepository
    tasks: TaskRepository
    appointments: AppointmentRepository
    switches: RoutingSwitchRepository
    audit: AuditLog
    outbox: OutboxRepository
    calendar_sync: CalendarSyncRepository
    routes: RouteRepository
    moves: RecordMoveRepository
    tx: Transactions
    job_runs: JobRuns
    inbound: InboundEvents
    work_items: WorkItems
