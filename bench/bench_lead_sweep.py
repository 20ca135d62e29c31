"""The overdue-lead sweep with 10,000 and with 1,000,000 stored leads, on SQLite.

Most stored leads are long contacted; 200 are new and overdue. The sweep must
find those through the (status, received_at) index, so its cost must not grow
with the table. Target (issue: leads): the 1,000,000 sweep costs at most 2x the
10,000 sweep. Run: .venv/bin/python bench/bench_lead_sweep.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bot.config.examples import EXAMPLES as EXAMPLES_DIR
from bot.config.loader import load_config
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from handlers.wiring import build_context
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from storage.tables import LeadRow

NOW = datetime(2026, 11, 30, 16, tzinfo=UTC)
OVERDUE = 200
EXAMPLES = EXAMPLES_DIR


def fill(url: str, total: int) -> None:
    """`total` leads: all contacted but the newest OVERDUE, which are new and overdue."""
    engine = engine_from_url(url)
    rows = []
    batch = 50_000
    with engine.begin() as connection:
        for n in range(total):
            overdue = n >= total - OVERDUE
            received = NOW - timedelta(minutes=30 + (total - n))
            rows.append({
                "source": "website", "external_id": f"x{n}", "name": "Lead", "email": None,
                "phone": "+15125550100", "community": "Riverside", "message": "",
                "received_at": received, "owner_email": "maria@riverside-homes.example",
                "assigned_to": "maria@riverside-homes.example", "assignment_reason": "",
                "status": "new" if overdue else "contacted",
                "first_contact_at": None if overdue else received + timedelta(minutes=3)})
            if len(rows) == batch:
                connection.execute(insert(LeadRow), rows)
                rows.clear()
        if rows:
            connection.execute(insert(LeadRow), rows)
    engine.dispose()


def sweep_cost(total: int) -> tuple[float, int]:
    """Median seconds of a steady-state sweep (alerts already queued) over `total` leads."""
    config = load_config(EXAMPLES / "app.yaml", env={})
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/sweep.db"
        upgrade(url)
        fill(url, total)
        engine = engine_from_url(url)
        ctx = build_context(config=config, repos=sql_repositories(engine),
                            clock=FixedClock(NOW), chat=RecordingChat(), sources={})
        first = ctx.leads.sweep()
        timings = []
        for _ in range(5):
            began = time.perf_counter()
            ctx.leads.sweep()
            timings.append(time.perf_counter() - began)
        engine.dispose()
    return statistics.median(timings), first.alerts


def main() -> None:
    """Both sizes, then the ratio."""
    small, small_alerts = sweep_cost(10_000)
    large, large_alerts = sweep_cost(1_000_000)
    print(f"sweep over 10,000 leads: {small * 1000:.1f} ms ({small_alerts} overdue found)")
    print(f"sweep over 1,000,000 leads: {large * 1000:.1f} ms ({large_alerts} overdue found)")
    print(f"ratio: {large / small:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
