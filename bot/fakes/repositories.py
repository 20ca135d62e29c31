"""A fresh bundle of in-memory repositories, rolled back together."""


from __future__ import annotations

import dataclasses

from bot.fakes.calendars import InMemoryCalendarSync
from bot.fakes.delivery import InMemoryInboundEvents, InMemoryOutbox, InMemoryTransactions
from bot.fakes.jobs import InMemoryJobRuns, InMemoryWorkItems
from bot.fakes.records import (
    InMemoryActivities,
    InMemoryAppointments,
    InMemoryAudit,
    InMemoryCoverages,
    InMemoryLeads,
    InMemoryTasks,
)
from bot.fakes.routing import InMemoryRecordMoves, InMemoryRoutes, InMemorySwitches
from bot.ports.repositories import Repositories


def in_memory_repositories() -> Repositories:
    """A fresh bundle of in-memory repositories; `tx` rolls all of them back together."""
    repos = _bundle()
    tx = InMemoryTransactions([getattr(repos, f.name) for f in dataclasses.fields(repos)
                               if f.name not in ("tx", "job_runs", "inbound", "work_items")])
    return dataclasses.replace(repos, tx=tx)


def _bundle() -> Repositories:
    leads = InMemoryLeads()
    return Repositories(
        coverages=InMemoryCoverages(),
        leads=leads,
        activities=InMemoryActivities(leads),
        tasks=InMemoryTasks(),
        appointments=InMemoryAppointments(),
        switches=InMemorySwitches(),
        audit=InMemoryAudit(),
        outbox=InMemoryOutbox(),
        calendar_sync=InMemoryCalendarSync(),
        routes=InMemoryRoutes(),
        moves=InMemoryRecordMoves(),
        tx=InMemoryTransactions(()),
        job_runs=InMemoryJobRuns(),
        inbound=InMemoryInboundEvents(),
        work_items=InMemoryWorkItems(),
    )
