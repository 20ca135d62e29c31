"""One CRM lead channel wired into the routing engine, with an active coverage to switch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.model import AbsenceKind, Coverage, CoverageMode, CoverageOrigin, CoverageStatus
from bot.ports.repositories import Repositories
from bot.ports.routing import CrmClient, RecordMoveRepository
from bot.routing.crm_handover import CrmRouting
from bot.routing.engine import RoutingEngine


@dataclass
class CrmHarness:
    """The repositories, engine and coverage a CRM hand-over test drives."""

    repos: Repositories
    engine: RoutingEngine
    coverage: Coverage
    clock: FixedClock


def crm_harness(crm: CrmClient, *, osc_email: str, backup_email: str, start: datetime,
                end: datetime, mode: CoverageMode = CoverageMode.LONG_TERM,
                keep_new_leads_with_backup: bool = False,
                moves: RecordMoveRepository | None = None) -> CrmHarness:
    """An engine whose `leads` channel is `crm`, and an active coverage from start to end."""
    repos = in_memory_repositories()
    if moves is not None:
        repos = dataclasses.replace(repos, moves=moves)
    clock = FixedClock(start)
    adapter = CrmRouting(crm=crm, routes=repos.routes, moves=repos.moves, clock=clock,
                         keep_new_leads_with_backup=keep_new_leads_with_backup)
    engine = RoutingEngine(adapters={"leads": adapter}, switches=repos.switches,
                           audit=repos.audit, clock=clock)
    coverage = repos.coverages.add(Coverage(
        id=None, osc_email=osc_email, start=start, end=end, kind=AbsenceKind.LEAVE, mode=mode,
        origin=CoverageOrigin.MANUAL, status=CoverageStatus.ACTIVE, backup_email=backup_email))
    return CrmHarness(repos, engine, coverage, clock)
