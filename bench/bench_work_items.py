"""Split calendar sync on PostgreSQL: one slot's calendars worked by 1, 2 and 3 replicas
(threads, each with its own engine and services), every read taking READ_MS.

Prints the wall time of the slot, each calendar's read count (must be 1) and how the
calendars were shared.

    python bench/bench_work_items.py      # OSCBOT_BENCH_POSTGRES_URL to point elsewhere
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.ports.calendars import CalendarRead
from handlers.wiring import build_context
from schedules.jobs import job
from schedules.scheduler import run_tick
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.conftest import make_config

POSTGRES = os.environ.get("OSCBOT_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
CALENDARS, READ_MS = 96, 100
OSCS = [f"osc{i}@bench.example" for i in range(CALENDARS)]
SYNC = job("sync_calendars")


class SlowCalendar:
    """An empty calendar that takes READ_MS to read and counts its reads."""

    def __init__(self, osc: str, replica: str, reads: Counter[tuple[str, str]],
                 lock: threading.Lock) -> None:
        self.osc, self.replica, self.reads, self.lock = osc, replica, reads, lock

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """No events, after a pause."""
        time.sleep(READ_MS / 1000)
        with self.lock:
            self.reads[(self.osc, self.replica)] += 1
        return CalendarRead(absences=(), cursor={"read": "1"}, event_count=0)


def measure(url: str, replicas: int, now: datetime) -> tuple[float, Counter[tuple[str, str]]]:
    """Seconds for `replicas` replicas to work one slot, and the reads they made."""
    config = make_config(people=[
        *({"email": osc, "name": f"Osc {i}", "role": "osc", "backups": ["jo@bench.example"]}
          for i, osc in enumerate(OSCS)),
        {"email": "jo@bench.example", "name": "Jo", "role": "backup", "trained": True,
         "shadowed": True}])
    reads: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    engines = [engine_from_url(url) for _ in range(replicas)]
    contexts = [build_context(config=config, repos=sql_repositories(engine),
                              clock=FixedClock(now), chat=RecordingChat(),
                              sources={osc: SlowCalendar(osc, f"r{n}", reads, lock)
                                       for osc in OSCS})
                for n, engine in enumerate(engines)]
    start = threading.Barrier(replicas + 1)

    def tick(n: int) -> None:
        start.wait()
        run_tick(contexts[n], SYNC, SYNC.every)

    threads = [threading.Thread(target=tick, args=(n,)) for n in range(replicas)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for engine in engines:
        engine.dispose()
    return elapsed, reads


def main() -> None:
    """Create a scratch database, measure 1, 2 and 3 replicas, drop it."""
    name = f"oscbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        print(f"{CALENDARS} calendars, {READ_MS} ms per read, batches of 8 read concurrently")
        for slot, replicas in enumerate((1, 2, 3)):
            # Each run in its own slot (a minute apart), so none finds the last one's work.
            now = datetime(2026, 11, 30, 14, slot, 5, tzinfo=UTC)
            elapsed, reads = measure(url, replicas, now)
            per_calendar = set(Counter(osc for (osc, _) in reads.elements()).values())
            shares = sorted(Counter(r for (_, r) in reads.elements()).values(), reverse=True)
            print(f"{replicas} replica(s): {elapsed:.2f} s for the slot; reads per calendar "
                  f"{per_calendar}; calendars per replica {shares}")
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
