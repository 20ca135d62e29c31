"""Job slot claims on SQLite and PostgreSQL: a slot runs once, and a job's old slots are
pruned as it goes so the table stays a couple of days long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.jobs.slots import slot_of
from bot.ports.repositories import Repositories
from storage.job_runs import SqlJobRuns

T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
EVERY = timedelta(hours=1)
JOB, OTHER = "hourly_digest", "weekly_report"


def test_finished_slots_leave_about_two_days_of_the_jobs_rows(
        backend: tuple[str, Repositories, Engine | None], repos: Repositories) -> None:
    if backend[0] == "memory":
        pytest.skip("the in-memory fake keeps every slot; only SQL tables need pruning")
    runs = repos.job_runs
    assert isinstance(runs, SqlJobRuns)
    other_slot = slot_of(T0, timedelta(days=7))
    assert other_slot % 100 != 0
    assert runs.claim(job=OTHER, slot=other_slot, owner="r1", now=T0)
    runs.finish(job=OTHER, slot=other_slot, now=T0, outcome="sent")
    # Hourly for more than three days, up to a slot divisible by 100.
    now, slot = T0, slot_of(T0, EVERY)
    while not (now - T0 > timedelta(days=3) and slot % 100 == 0):
        now += EVERY
        slot = slot_of(now, EVERY)
        assert runs.claim(job=JOB, slot=slot, owner="r1", now=now)
        runs.finish(job=JOB, slot=slot, now=now + timedelta(seconds=20), outcome="ok")
    kept = [r["started_at"] for r in runs.runs(JOB)]
    cutoff = now + timedelta(seconds=20) - timedelta(days=2)
    assert min(kept) >= cutoff  # nothing older than two days
    assert min(kept) - cutoff < EVERY  # but the two days are all there
    assert len(kept) == 2 * 24
    # Another job's rows are its own to prune.
    assert [r["slot"] for r in runs.runs(OTHER)] == [other_slot]
    # A recent slot, finished or not, still runs only once.
    assert not runs.claim(job=JOB, slot=slot, owner="r2", now=now)
    yesterday = slot_of(now - timedelta(days=1), EVERY)
    assert not runs.claim(job=JOB, slot=yesterday, owner="r2", now=now)
