"""Split jobs on PostgreSQL with replicas on their own engines: two replicas share a
slot's calendars and read each once; a replica killed mid-run (a real process, exiting
while it holds a batch) has its calendars taken over once its lease runs out."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from bot.context import AppContext
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.ports.calendars import CalendarRead, CalendarSource
from handlers.wiring import build_context
from schedules.jobs import CALENDARS, job
from schedules.scheduler import run_tick
from storage.engine import engine_from_url
from storage.repositories import sql_repositories
from tests.schedules.test_split_jobs import OSCS, team

T0 = datetime(2026, 11, 30, 14, 0, 5, tzinfo=UTC)
SYNC = job("sync_calendars")
KILLED = 9


class Calendar:
    """An empty calendar that counts its reads per replica; with `gate`, a read waits
    until both replicas are reading, so the test sees them share the slot."""

    def __init__(self, replica: str, reads: Counter[tuple[str, str]], osc: str,
                 lock: threading.Lock, gate: threading.Event | None = None) -> None:
        self.replica, self.reads, self.osc, self.lock, self.gate = replica, reads, osc, lock, gate

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """No events; the read is counted."""
        with self.lock:
            self.reads[(self.osc, self.replica)] += 1
            if self.gate is not None and len({r for (_, r) in self.reads}) == 2:
                self.gate.set()
        if self.gate is not None:
            self.gate.wait(10)
        return CalendarRead(absences=(), cursor={"read": "1"}, event_count=0)


class Dying:
    """A calendar whose read kills its process, as SIGKILL would: nothing is cleaned up."""

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """Exit at once, holding whatever the process had claimed."""
        os._exit(KILLED)


def replica(url: str, sources: dict[str, CalendarSource], now: datetime
            ) -> tuple[AppContext, Engine]:
    engine = engine_from_url(url)
    return build_context(config=team(), repos=sql_repositories(engine), clock=FixedClock(now),
                         chat=RecordingChat(), sources=sources), engine


def killed_replica(url: str, now: str) -> None:
    """A replica that wins the slot, enqueues it, claims a batch and dies reading it."""
    ctx, _ = replica(url, {osc: Dying() for osc in OSCS}, datetime.fromisoformat(now))
    run_tick(ctx, SYNC, SYNC.every)


@pytest.fixture
def url(migrated_postgres: str) -> Iterator[str]:
    engine = engine_from_url(migrated_postgres)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE work_items, job_runs, calendar_sync_state, "
                                "coverages, audit_log, outbox, outbox_channels "
                                "RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield migrated_postgres


def test_two_replicas_share_a_slot_and_read_each_calendar_once(url: str) -> None:
    reads: Counter[tuple[str, str]] = Counter()
    lock, gate = threading.Lock(), threading.Event()
    contexts = [replica(url, {osc: Calendar(name, reads, osc, lock, gate) for osc in OSCS}, T0)
                for name in ("r1", "r2")]
    summaries: list[str | None] = []
    start = threading.Barrier(2)

    def tick(ctx: AppContext) -> None:
        start.wait()
        summaries.append(run_tick(ctx, SYNC, SYNC.every))

    threads = [threading.Thread(target=tick, args=(ctx,)) for ctx, _ in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert gate.is_set(), "both replicas should have been reading at once"
        per_calendar = Counter(osc for (osc, _) in reads.elements())
        assert per_calendar == Counter({osc: 1 for osc in OSCS})
        assert {r for (_, r) in reads} == {"r1", "r2"}
        assert len([s for s in summaries if s is not None]) == 2
        with contexts[0][1].connect() as db:
            assert db.execute(text("SELECT count(*) FROM job_runs")).scalar_one() == 1
            assert db.execute(text("SELECT count(*) FROM work_items WHERE done_at IS NULL")
                              ).scalar_one() == 0
            assert db.execute(text("SELECT count(DISTINCT owner) FROM work_items")
                              ).scalar_one() == 2
        # A third tick in the same slot, on either replica, reads nothing again.
        assert run_tick(contexts[0][0], SYNC, SYNC.every) is None
        assert sum(reads.values()) == len(OSCS)
    finally:
        for _, engine in contexts:
            engine.dispose()


def test_a_killed_replicas_calendars_are_taken_over_after_its_lease(url: str) -> None:
    child = multiprocessing.get_context("spawn").Process(
        target=killed_replica, args=(url, T0.isoformat()))
    child.start()
    child.join(60)
    assert child.exitcode == KILLED
    reads: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    ctx, engine = replica(url, {osc: Calendar("survivor", reads, osc, lock) for osc in OSCS},
                          T0 + timedelta(seconds=5))
    try:
        with engine.connect() as db:
            held = db.execute(text("SELECT count(*) FROM work_items WHERE owner IS NOT NULL "
                                   "AND done_at IS NULL")).scalar_one()
        assert held == CALENDARS.batch
        # Same slot: the survivor works what the dead replica had not claimed.
        summary = run_tick(ctx, SYNC, SYNC.every)
        assert summary is not None and summary.startswith(f"read {len(OSCS) - held} calendars")
        take_over = job("take_over_work")
        assert take_over.run(ctx) == "0 items taken over"  # the lease still runs
        assert isinstance(ctx.clock, FixedClock)
        ctx.clock.set(T0 + CALENDARS.lease + timedelta(seconds=1))
        assert take_over.run(ctx) == f"sync_calendars: {held} items taken over"
        assert Counter(osc for (osc, _) in reads.elements()) == Counter(
            {osc: 1 for osc in OSCS})
        with engine.connect() as db:
            assert db.execute(text("SELECT count(*) FROM work_items WHERE done_at IS NULL")
                              ).scalar_one() == 0
            # The dead replica won the slot; nobody ran it a second time.
            assert db.execute(text("SELECT count(*), count(finished_at) FROM job_runs")
                              ).one() == (1, 0)
    finally:
        engine.dispose()
