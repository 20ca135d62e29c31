"""Leased work items on SQL, shared by every replica.

A claim is one statement: on PostgreSQL `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
LOCKED LIMIT n) RETURNING`, so replicas claiming together take different items and never
wait on each other; on SQLite the same UPDATE without the lock clause (one writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from bot.ports.jobs import WorkItem
from storage import rows
from storage.tables import WorkItemRow
from storage.types import UTCDateTime

# An item is free when it is not done, not leased (or the lease ran out), no newer slot
# holds its key (that copy is the one to work) and no older copy is leased right now
# (one replica per key at a time).
_FREE = """
    w.job = :job AND w.done_at IS NULL
    AND (w.lease_until IS NULL OR w.lease_until < :now)
    AND NOT EXISTS (SELECT 1 FROM work_items o
                    WHERE o.job = w.job AND o.item = w.item AND o.id <> w.id
                      AND (o.slot > w.slot
                           OR (o.done_at IS NULL AND o.lease_until >= :now)))
"""

_CLAIM = """
UPDATE work_items SET owner = :owner, lease_until = :until, attempts = attempts + 1
WHERE id IN (
    SELECT w.id FROM work_items w WHERE {free}
    ORDER BY w.slot, w.id
    LIMIT :limit{lock})
RETURNING job, item, slot
"""


class SqlWorkItems:
    """WorkItems on SQL: unique on (job, item, slot); claims lease with SKIP LOCKED."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._claim = _sql(_CLAIM.format(free=_FREE, lock=" FOR UPDATE OF w SKIP LOCKED"
                                         if self._postgres else ""), "now", "until")

    def enqueue(self, *, job: str, slot: int, keys: Sequence[str], now: datetime) -> int:
        """Insert the slot's items; existing ones (perhaps done) are left alone."""
        values = [{"job": job, "item": key, "slot": slot, "attempts": 0, "created_at": now}
                  for key in dict.fromkeys(keys)]
        if not values:
            return 0
        insert = pg_insert if self._postgres else sqlite_insert
        with rows.unit(self._engine) as session:
            # DO NOTHING: a replica enqueueing the same slot again changes nothing, and an
            # item done in this slot stays done.
            result = session.execute(insert(WorkItemRow).values(values).on_conflict_do_nothing(
                index_elements=["job", "item", "slot"]).returning(col(WorkItemRow.id)))
            return len(result.all())

    def claim(self, *, job: str, owner: str, now: datetime, lease: timedelta,
              limit: int) -> list[WorkItem]:
        """Lease up to `limit` free items of the job, oldest slot first."""
        if limit <= 0:
            return []
        until = now + lease
        with rows.unit(self._engine) as session:
            result = session.execute(self._claim, {"job": job, "owner": owner, "until": until,
                                                   "now": now, "limit": limit})
            claimed = [WorkItem(job=str(r[0]), key=str(r[1]), slot=int(r[2]), owner=owner,
                                lease_until=until) for r in result]
        return sorted(claimed, key=lambda i: (i.slot, i.key))

    def done(self, items: Sequence[WorkItem], *, now: datetime) -> int:
        """Mark done the items whose lease is still ours (a taken-over item is not)."""
        return self._each(items, _sql("UPDATE work_items SET done_at = :now WHERE job = :job "
                                      "AND item = :item AND slot = :slot AND owner = :owner "
                                      "AND done_at IS NULL", "now"), now=now)

    def release(self, items: Sequence[WorkItem]) -> None:
        """Clear leases still ours."""
        self._each(items, text("UPDATE work_items SET owner = NULL, lease_until = NULL "
                               "WHERE job = :job AND item = :item AND slot = :slot "
                               "AND owner = :owner AND done_at IS NULL"))

    def pending(self, *, job: str) -> int:
        """Items not done whose key has no newer slot."""
        with rows.unit(self._engine) as session:
            return int(session.execute(text(
                "SELECT count(*) FROM work_items w WHERE w.job = :job AND w.done_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM work_items o WHERE o.job = w.job "
                "AND o.item = w.item AND o.slot > w.slot)"), {"job": job}).scalar_one())

    def prune(self, *, before: datetime) -> int:
        """Delete items enqueued before `before` (uses ix_work_items_created_at)."""
        with rows.unit(self._engine) as session:
            result = session.execute(_sql("DELETE FROM work_items WHERE created_at < :before",
                                          "before"), {"before": before})
            return int(getattr(result, "rowcount", 0) or 0)

    def _each(self, items: Sequence[WorkItem], statement: TextClause, **extra: object) -> int:
        if not items:
            return 0
        with rows.unit(self._engine) as session:
            changed = 0
            for item in items:
                result = session.execute(statement, {
                    "job": item.job, "item": item.key, "slot": item.slot, "owner": item.owner,
                    **extra})
                changed += int(getattr(result, "rowcount", 0) or 0)
            return changed


def _sql(statement: str, *times: str) -> TextClause:
    """A statement whose time parameters are bound as stored (naive UTC on SQLite), so
    they compare with the column's values."""
    return text(statement).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in times))
