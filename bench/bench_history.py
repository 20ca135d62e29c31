"""The handoff brief, the return-to-office list and the manager's App Home for an OSC
with 1,000, 10,000 and 100,000 lifetime leads, on SQLite, next to their floor.

The floor is the least a brief needs: one join reading the OSC's open leads and the
appointments of the coverage window. Each case and its floor run interleaved, and the
table gives medians, the ratio and the SQL statements each case ran (the count must not
grow with the history). Target (issue: fast at any size): the brief at 100,000 leads
under 100 ms. Run: .venv/bin/python bench/bench_history.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bot.coverage.briefs import handoff_brief, return_list
from handlers.slack.events import app_home
from tests.storage.history import END, MANAGER, OSC, START, counting, stored_history

ROUNDS = 7

FLOOR = text(
    "SELECT leads.id, leads.name, leads.received_at, appointments.at FROM leads "
    "LEFT JOIN appointments ON appointments.lead_id = leads.id "
    "AND appointments.at >= :start AND appointments.at < :end "
    "WHERE leads.owner_email = :osc AND (leads.status = 'new' OR appointments.id IS NOT NULL)")


def timed(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def measure(size: int) -> list[tuple[str, float, float, int]]:
    """(case, median seconds, floor median seconds, statements) at one history size."""
    with tempfile.TemporaryDirectory() as folder:
        engine, ctx, coverage_id = stored_history(f"sqlite:///{folder}/history.db",
                                                  leads=size)
        coverage = ctx.coverage.get(coverage_id)
        zone = ctx.config.team.timezone

        def floor() -> object:
            with engine.connect() as connection:
                return connection.execute(FLOOR, {"osc": OSC, "start": START,
                                                  "end": END}).all()

        cases: dict[str, Callable[[], object]] = {
            "handoff brief": lambda: handoff_brief(ctx.coverage.brief_for(coverage),
                                                   config=ctx.config, zone=zone),
            "return-to-office list": lambda: return_list(ctx.coverage.return_facts(coverage),
                                                         config=ctx.config, zone=zone),
            "manager's App Home": lambda: app_home(ctx, MANAGER),
        }
        rows = []
        for name, case in cases.items():
            case(), floor()  # warm caches and compiled statements
            ours, least = [], []
            for _ in range(ROUNDS):
                ours.append(timed(case))
                least.append(timed(floor))
            with counting(engine) as statements:
                case()
            rows.append((name, statistics.median(ours), statistics.median(least),
                         len(statements)))
        engine.dispose()
    return rows


def main() -> None:
    """Every size, then one table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print(f"{'case':24} {'leads':>8} {'oscbot ms':>10} {'floor ms':>9} {'ratio':>6} "
          f"{'SQL statements':>15}")
    for size in sizes:
        for name, ours, least, count in measure(size):
            print(f"{name:24} {size:>8,} {ours * 1000:>10.1f} {least * 1000:>9.1f} "
                  f"{ours / least:>6.1f} {count:>15}")
    print("target: handoff brief at 100,000 leads < 100 ms; statements equal at every size")


if __name__ == "__main__":
    main()
