"""A stored history of any size for one OSC: leads over two years, contacts, notes,
appointments and tasks, and a coverage running now. Written with bulk inserts so
the query-count tests and the benchmarks can fill 100,000 leads in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, event, insert

from bot.context import AppContext
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from handlers.wiring import build_context
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from storage.tables import ActivityRow, AppointmentRow, CoverageRow, LeadRow, TaskRow
from tests.conftest import make_config

OSC, BACKUP, MANAGER = "maria@rh.example", "sam@rh.example", "dana@rh.example"

NOW = datetime(2026, 11, 30, 16, tzinfo=UTC)
SPAN = timedelta(days=730)
START, END = NOW - timedelta(days=3), NOW + timedelta(days=2)
BATCH = 20_000


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(engine: Engine, *, leads: int, osc: str, backup: str) -> int:
    """Store `leads` leads of `osc` and their history, with an active coverage of `osc` by
    `backup` from three days ago to two days ahead; returns the coverage id.

    Every 10th lead is still new, every 20th rated hot, every 50th and the newest have an
    appointment, every 10th a follow-up task (half done). The two newest leads came in
    during the coverage, like every lead of the last days, and carry the backup's notes.
    """
    step = SPAN / max(leads, 1)

    def received(n: int) -> datetime:
        if n >= leads - 2:
            return START + timedelta(hours=1 + 24 * (n - leads + 2))
        return NOW - SPAN + step * n

    def lead_rows() -> Iterator[dict[str, Any]]:
        for n in range(leads):
            new = n % 10 == 0
            at = received(n)
            yield {"id": n + 1, "source": "website", "external_id": f"h{n}",
                   "name": f"Lead {n}", "email": f"lead{n}@example.com",
                   "phone": "+15125550100", "community": "Riverside", "message": "",
                   "received_at": at, "owner_email": osc,
                   "assigned_to": backup if START <= at < END else osc,
                   "assignment_reason": "", "status": "new" if new else "contacted",
                   "first_contact_at": None if new else at + timedelta(minutes=4),
                   "rating": "hot" if n % 20 == 1 else None,
                   "last_two_way_at": None if new else at + timedelta(minutes=4)}

    def activity_rows() -> Iterator[dict[str, Any]]:
        for n in range(leads):
            at = received(n)
            if n % 10:
                by = backup if START <= at < END else osc
                yield {"lead_id": n + 1, "kind": "call", "direction": "outbound",
                       "by_email": by, "at": at + timedelta(minutes=4), "two_way": True,
                       "notes": f"Spoke with lead {n}" if by == backup else ""}

    def appointment_rows() -> Iterator[dict[str, Any]]:
        for n in sorted({*range(0, leads, 50), leads - 1}):
            yield {"lead_id": n + 1, "set_by": osc, "at": received(n) + timedelta(hours=1),
                   "credit_email": osc, "credit_to": "osc", "bonus_email": None, "note": "",
                   "coverage_id": None}

    def task_rows() -> Iterator[dict[str, Any]]:
        for n in range(0, leads, 10):
            yield {"title": f"Follow up with lead {n}", "due_at": received(n) + timedelta(days=2),
                   "owner_email": osc, "assignee_email": osc, "lead_id": n + 1,
                   "status": "open" if n % 20 else "done", "coverage_id": None,
                   "created_by": osc, "cadence_step": 0}

    with engine.begin() as connection:
        coverage_id = connection.execute(insert(_table(CoverageRow)).values(
            osc_email=osc, backup_email=backup, start=START, end=END, kind="vacation",
            mode="short_term", origin="manual", status="active", skipped=[], declared_by=osc,
            notes="", source_uids=[], started_at=START)).inserted_primary_key[0]
        for model, rows in ((LeadRow, lead_rows()), (ActivityRow, activity_rows()),
                            (AppointmentRow, appointment_rows()), (TaskRow, task_rows())):
            for batch in _batches(rows):
                connection.execute(insert(_table(model)), batch)
    return int(coverage_id)


def stored_history(url: str, *, leads: int) -> tuple[Engine, AppContext, int]:
    """A migrated database at `url` holding `leads` leads of the test team's OSC with
    their history, and the services around it: (engine, context, coverage id)."""
    upgrade(url)
    engine = engine_from_url(url)
    coverage_id = fill(engine, leads=leads, osc=OSC, backup=BACKUP)
    ctx = build_context(config=make_config(), repos=sql_repositories(engine),
                        clock=FixedClock(NOW), chat=RecordingChat(), sources={})
    return engine, ctx, coverage_id


_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """Every SQL query the engine runs inside the block."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Transaction control (BEGIN, SAVEPOINT, …) is not a query of the screen.
        if not statement.lstrip().upper().startswith(_CONTROL):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)
