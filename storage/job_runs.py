"""Job slot claims on SQL: each scheduled run claims its slot first, so it runs once
across every replica."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage import rows
from storage.tables import JobRunRow


class SqlJobRuns:
    """JobRuns on SQL: the unique (job, slot) key lets exactly one replica run a slot."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, *, job: str, slot: int, owner: str, now: datetime) -> bool:
        """Insert the slot's row; a duplicate means another replica has it."""
        try:
            with rows.unit(self._engine) as session:
                session.add(JobRunRow(job=job, slot=slot, owner=owner, started_at=now))
                session.flush()
        except IntegrityError:
            return False
        return True

    def finish(self, *, job: str, slot: int, now: datetime, outcome: str) -> None:
        """Record the outcome (trimmed to the column)."""
        with rows.unit(self._engine) as session:
            session.execute(text(
                "UPDATE job_runs SET finished_at = :now, outcome = :outcome "
                "WHERE job = :job AND slot = :slot"),
                {"now": now, "outcome": outcome[:200], "job": job, "slot": slot})
            if slot % 100 == 0:
                # Slots only need to outlive the replicas' clock skew: keep two days.
                session.execute(text("DELETE FROM job_runs WHERE job = :job AND "
                                     "started_at < :cutoff"),
                                {"job": job, "cutoff": now - timedelta(days=2)})

    def runs(self, job: str | None = None) -> list[dict[str, Any]]:
        """Recorded runs, for tests and operators."""
        query = select(JobRunRow)
        if job is not None:
            query = query.where(JobRunRow.job == job)
        return rows.select_all(self._engine, query.order_by(col(JobRunRow.id)),
                               lambda r: r.model_dump())
