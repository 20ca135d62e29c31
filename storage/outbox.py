"""SQL outbox with leased delivery, the unit of work, job slot claims and inbound dedupe.

Claims are single statements: on PostgreSQL `UPDATE … WHERE channel IN (SELECT … FOR
UPDATE SKIP LOCKED LIMIT n) RETURNING`, so replicas never wait on each other's rows;
on SQLite the same UPDATE without the lock clause (SQLite has one writer anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.ports import OutboxItem, OutboxStatus
from storage import convert, rows
from storage.tables import InboundEventRow, JobRunRow, OutboxChannelRow, OutboxRow

_CLAIM = """
UPDATE outbox_channels SET owner = :owner, lease_until = :until
WHERE channel IN (
    SELECT c.channel FROM outbox_channels c
    WHERE (c.lease_until IS NULL OR c.lease_until < :now)
      AND (c.next_send_at IS NULL OR c.next_send_at <= :now)
      AND EXISTS (SELECT 1 FROM outbox o WHERE o.channel = c.channel AND o.status = 'pending')
    ORDER BY c.last_served_at, (SELECT min(h.id) FROM outbox h WHERE h.channel = c.channel
                                AND h.status = 'pending')
    LIMIT :limit{lock})
RETURNING channel
"""


class SqlOutbox:
    """OutboxRepository on SQL; the unique key makes queueing idempotent across processes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._claim = text(_CLAIM.format(lock=" FOR UPDATE SKIP LOCKED" if self._postgres
                                         else ""))

    def enqueue(self, item: OutboxItem) -> tuple[OutboxItem, bool]:
        """Store unless the key exists (insert first; the unique key decides), and make
        sure its conversation has a lease row."""
        with rows.unit(self._engine) as session:
            insert = pg_insert if self._postgres else sqlite_insert
            # DO NOTHING takes no lock on an existing row: intakes never queue on it.
            # A new conversation counts as served when its first message is queued: it
            # takes its turn after those waiting longer (round-robin, see `claim`).
            session.execute(insert(OutboxChannelRow).values(
                channel=item.conversation, last_served_at=item.created_at)
                .on_conflict_do_nothing(index_elements=["channel"]))
        return rows.insert_unique(self._engine, OutboxRow(**convert.outbox_row(item)),
                                  convert.outbox_item, lambda: self.get(item.key))

    def get(self, key: str) -> OutboxItem | None:
        """The item with this key."""
        return rows.select_one(self._engine, select(OutboxRow).where(OutboxRow.key == key),
                               convert.outbox_item)

    def due(self, *, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """Pending items due now, oldest first."""
        query = (select(OutboxRow)
                 .where(OutboxRow.status == OutboxStatus.PENDING.value,
                        or_(col(OutboxRow.next_attempt_at).is_(None),
                            col(OutboxRow.next_attempt_at) <= now))
                 .order_by(col(OutboxRow.id)).limit(limit))
        return rows.select_all(self._engine, query, convert.outbox_item)

    def pending(self, *, limit: int = 100) -> list[OutboxItem]:
        """Every pending item, oldest first."""
        query = (select(OutboxRow).where(OutboxRow.status == OutboxStatus.PENDING.value)
                 .order_by(col(OutboxRow.id)).limit(limit))
        return rows.select_all(self._engine, query, convert.outbox_item)

    def save(self, item: OutboxItem) -> OutboxItem:
        """Update an item."""
        return rows.update(self._engine, OutboxRow, item.id, convert.outbox_row(item),
                           convert.outbox_item, what="outbox item")

    def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[str]:
        """Lease up to `limit` conversations that may send now, least recently served first
        (round-robin): a backlog in one conversation never holds back the others."""
        with rows.unit(self._engine) as session:
            result = session.execute(self._claim, {"owner": owner, "until": now + lease,
                                                   "now": now, "limit": limit})
            return [str(r[0]) for r in result]

    def head(self, conversation: str) -> OutboxItem | None:
        """The oldest pending item of a conversation (uses ix_outbox_channel_status_id)."""
        return rows.select_one(self._engine, select(OutboxRow).where(
            OutboxRow.channel == conversation, OutboxRow.status == OutboxStatus.PENDING.value)
            .order_by(col(OutboxRow.id)).limit(1), convert.outbox_item)

    def begin_attempt(self, item: OutboxItem, *, owner: str, now: datetime) -> OutboxItem | None:
        """Mark the item in flight, in one statement that also checks the lease is ours."""
        with rows.unit(self._engine) as session:
            result = session.execute(text(
                "UPDATE outbox SET in_flight = :yes, attempts = attempts + 1, "
                "first_tried_at = COALESCE(first_tried_at, :now) "
                "WHERE id = :id AND status = 'pending' AND EXISTS (SELECT 1 FROM "
                "outbox_channels c WHERE c.channel = :channel AND c.owner = :owner "
                "AND c.lease_until >= :now)"),
                {"yes": True, "now": now, "id": item.id, "channel": item.conversation,
                 "owner": owner})
            if getattr(result, "rowcount", 0) != 1:
                return None
            row = session.get(OutboxRow, item.id, populate_existing=True)
            return convert.outbox_item(row) if row is not None else None

    def release(self, conversation: str, *, owner: str, now: datetime,
                next_send_at: datetime | None) -> None:
        """Give the lease back (only if it is still ours)."""
        with rows.unit(self._engine) as session:
            session.execute(text(
                "UPDATE outbox_channels SET owner = NULL, lease_until = NULL, "
                "next_send_at = :next, last_served_at = :now "
                "WHERE channel = :channel AND owner = :owner"),
                {"next": next_send_at, "now": now, "channel": conversation, "owner": owner})

    def recent(self, *, status: OutboxStatus | None = None,
               limit: int = 100) -> list[OutboxItem]:
        """Items, newest first."""
        query = select(OutboxRow)
        if status is not None:
            query = query.where(OutboxRow.status == status.value)
        return rows.select_all(self._engine, query.order_by(col(OutboxRow.id).desc())
                               .limit(limit), convert.outbox_item)

    def counts(self) -> dict[str, int]:
        """Items per status."""
        counts = {s.value: 0 for s in OutboxStatus}
        with rows.unit(self._engine) as session:
            for status, count in session.execute(
                    select(OutboxRow.status, func.count()).group_by(col(OutboxRow.status))):
                counts[str(status)] = int(count)
        return counts


class SqlTransactions:
    """Transactions on SQL: repositories used inside `atomic()` share one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction for the block; nested blocks join it."""
        with rows.atomic(self._engine):
            yield


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


class SqlInbound:
    """InboundEvents on SQL: unique on (source, event_id), shared by every replica."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def first_time(self, *, source: str, event_id: str, now: datetime) -> bool:
        """Insert the id; a duplicate is a retry or a replay."""
        try:
            with rows.unit(self._engine) as session:
                session.add(InboundEventRow(source=source, event_id=event_id[:200],
                                            received_at=now))
                session.flush()
        except IntegrityError:
            return False
        return True
