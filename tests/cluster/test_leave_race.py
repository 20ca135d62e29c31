"""A leave started on two replicas at the same instant, on one PostgreSQL database:
one coverage, one brief, one backup DM and one routing switch per channel."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.fakes import FixedClock, RecordingChat
from bot.model import AbsenceKind, CoverageStatus
from handlers.context import AppContext, build_context
from storage.engine import engine_from_url
from storage.repositories import sql_repositories
from tests.conftest import make_config
from tests.storage.conftest import _truncate, migrated_postgres, postgres_url

__all__ = ["migrated_postgres", "postgres_url"]

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def replica(url: str, clock: FixedClock) -> AppContext:
    """A context of its own (engine, pool, services), as a separate replica has."""
    return build_context(config=make_config(), repos=sql_repositories(engine_from_url(url)),
                         clock=clock, chat=RecordingChat(clock), sources={},
                         sleep=lambda _: None)


def test_two_replicas_starting_the_same_leave_start_it_once(migrated_postgres: str) -> None:
    _truncate(engine_from_url(migrated_postgres))
    clock = FixedClock(NOW)
    first, second = replica(migrated_postgres, clock), replica(migrated_postgres, clock)
    planned = first.coverage.declare(
        osc_email="maria@rh.example", start=NOW + timedelta(hours=1),
        end=NOW + timedelta(days=3), kind=AbsenceKind.VACATION, actor="maria@rh.example")
    assert planned.status is CoverageStatus.PLANNED
    clock.advance(timedelta(hours=2))
    gate = threading.Barrier(2)
    reports: list[object] = []

    def tick(ctx: AppContext) -> None:
        gate.wait()
        reports.append(ctx.coverage.tick())

    threads = [threading.Thread(target=tick, args=(ctx,)) for ctx in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(reports) == 2
    assert sum(r.started for r in reports) == 1  # type: ignore[attr-defined]
    for ctx in (first, second):
        ctx.delivery.deliver_due()
    transcript = [m for ctx in (first, second)
                  for m in ctx.chat.transcript]  # type: ignore[attr-defined]
    briefs = [m for m in transcript if m.key == f"brief:{planned.id}"]
    backup_dms = [m for m in transcript if m.key == f"brief-dm:{planned.id}"]
    assert len(briefs) == 1 and len(backup_dms) == 1
    engine = engine_from_url(migrated_postgres)
    with engine.connect() as db:
        coverages = db.execute(text("SELECT status, count(*) FROM coverages "
                                    "GROUP BY status")).fetchall()
        applied = db.execute(text(
            "SELECT subject, count(*) FROM audit_log WHERE action = 'coverage.active' "
            "GROUP BY subject")).fetchall()
        switches = db.execute(text(
            "SELECT channel, count(*) FROM routing_switches GROUP BY channel")).fetchall()
        routed = db.execute(text("SELECT count(*) FROM routes")).scalar()
    engine.dispose()
    assert coverages == [("active", 1)]
    assert [n for _, n in applied] == [1]
    assert switches and all(n == 1 for _, n in switches)
    assert routed == 1
