"""SQL outbox with leased delivery.

A claim is one statement on PostgreSQL: pick the conversations that may send (`FOR
UPDATE OF c SKIP LOCKED`, so replicas never wait on each other's rows), lease them, and
mark each one's oldest pending message in flight, returning those messages. On SQLite
(one writer anyway) the same steps run in one transaction that takes the write lock
first. A release records the message's outcome and frees the lease in one transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Engine, bindparam, case, column, func, or_, text
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import TextClause
from sqlmodel import col, select

from bot.messages import Message
from bot.ports.delivery import Claim, OutboxItem, OutboxStatus
from storage import convert, rows
from storage.tables import (
    DeliveryPauseRow,
    OutboxChannelRow,
    OutboxRow,
)
from storage.types import UTCDateTime

# The conversations that may send now, each with its oldest pending message: not leased
# (or the lease ran out), paced (next_send_at), the message due (retries wait), no shared
# rate-limit pause on its kind. Urgent first (speed to lead), then the one that has been
# able to send the longest: a conversation that just got its first message waits only
# for those that were ready before it, not behind every busy channel's next turn.
# Each conversation's head is one seek in the (channel, status, id) index: a claim costs
# the same with ten pending messages per conversation or ten thousand (a window over
# every pending row grew with the backlog, and under a burst of leads claims took most of
# the CPU).
# The head `h` is due and no shared rate-limit pause holds its kind.
_HEAD_MAY_SEND = """(h.next_attempt_at IS NULL OR h.next_attempt_at <= :now)
  AND NOT EXISTS (SELECT 1 FROM delivery_pauses d WHERE d.until > :now
                  AND (d.scope = 'all' OR d.scope = h.target_kind
                       OR (d.scope = 'lookup' AND h.in_flight)))"""
_PICK = """
SELECT c.channel AS channel, h.id AS head, h.in_flight AS unsure,
       CASE WHEN c.next_send_at > COALESCE(h.next_attempt_at, h.created_at)
            THEN c.next_send_at ELSE COALESCE(h.next_attempt_at, h.created_at) END AS ready
FROM {conversations}
JOIN outbox h ON h.id = (SELECT min(x.id) FROM outbox x
                         WHERE x.channel = c.channel AND x.status = 'pending')
WHERE (c.lease_until IS NULL OR c.lease_until < :now)
  AND (c.next_send_at IS NULL OR c.next_send_at <= :now)
  AND {may_send}
ORDER BY h.priority DESC, ready, h.id
LIMIT :limit
"""
# SQLite (one team, a handful of conversations): every conversation is probed for its head.
_PICK_SQLITE = _PICK.format(conversations="outbox_channels c", may_send=_HEAD_MAY_SEND)
# PostgreSQL (many teams, replicas): the conversations with pending messages are found by
# stepping through the pending index (ix_outbox_pending) one conversation at a time, so
# idle conversations and the sent history are never read (probing every one of 20,000
# conversations took over 100 ms a claim; this takes about 10).
_PICK_POSTGRES = """
WITH RECURSIVE busy(channel) AS (
    SELECT * FROM (SELECT x.channel FROM outbox x WHERE x.status = 'pending'
                   ORDER BY x.channel LIMIT 1) AS first
    UNION ALL
    SELECT (SELECT x.channel FROM outbox x
            WHERE x.status = 'pending' AND x.channel > b.channel
            ORDER BY x.channel LIMIT 1)
    FROM busy b WHERE b.channel IS NOT NULL)
""" + _PICK.format(conversations="busy b JOIN outbox_channels c ON c.channel = b.channel",
                  may_send=_HEAD_MAY_SEND)
_COLUMNS = [c.name for c in OutboxRow.__table__.columns]  # type: ignore[attr-defined]
# PostgreSQL: lease, pick the heads and record their attempt in one statement (one
# round trip); SKIP LOCKED so replicas never wait on each other's rows.
_CLAIM_POSTGRES = f"""
WITH picked AS ({_PICK_POSTGRES} FOR UPDATE OF c SKIP LOCKED),
leased AS (
    UPDATE outbox_channels c SET owner = :owner, lease_until = :until
    FROM picked WHERE c.channel = picked.channel
    RETURNING picked.head, picked.unsure, picked.ready)
UPDATE outbox o SET in_flight = true, attempts = o.attempts + 1,
    first_tried_at = COALESCE(o.first_tried_at, :now)
FROM leased WHERE o.id = leased.head
RETURNING {", ".join(f"o.{name}" for name in _COLUMNS)}, leased.unsure, leased.ready
"""
# What delivery changes on an item; the rest (content, target) belongs to the Notifier.
DELIVERY_STATE = ("status", "attempts", "next_attempt_at", "ref_channel", "ref_id",
                  "last_error", "sent_at", "in_flight", "first_tried_at")
_RELEASE = """
UPDATE outbox_channels SET owner = NULL, lease_until = NULL, next_send_at = :next,
    last_served_at = :now
WHERE channel = :channel AND owner = :owner
"""

# A conversation worked without a break (see `keep_or_release`): the lease is extended
# while still ours, then its next message is picked if it may go now.
_KEEP = """
UPDATE outbox_channels SET lease_until = :until, next_send_at = :next, last_served_at = :now
WHERE channel = :channel AND owner = :owner
"""
# Its oldest pending messages, each with whether it may go now: the run taken stops at
# the first that may not (order is kept).
_NEXT_HEADS = f"""
SELECT h.id AS head, h.in_flight AS unsure, ({_HEAD_MAY_SEND}) AS may_send FROM outbox h
WHERE h.channel = :channel AND h.status = 'pending'
ORDER BY h.id LIMIT :limit
"""
# A claimed message given back unsent: as it was before the claim.
_GIVE_BACK = """
UPDATE outbox SET in_flight = :unsure, attempts = attempts - 1
WHERE id = :row_id AND status = 'pending'
"""


def _timed(sql: str, *names: str) -> TextClause:
    """The statement with its datetime parameters bound as UTCDateTime (naive UTC on
    SQLite, like the stored values, so comparisons hold)."""
    return text(sql).bindparams(*(bindparam(n, type_=UTCDateTime) for n in names))


class SqlOutbox:
    """OutboxRepository on SQL; the unique key makes queueing idempotent across processes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # Conversations whose lease row is known to be committed (see `enqueue`).
        self._known: set[str] = set()
        insert: Any = pg_insert if self._postgres else sqlite_insert
        channels: Any = OutboxChannelRow.__table__  # type: ignore[attr-defined]
        self._add_channel = insert(channels).values(
            channel=bindparam("channel"), last_served_at=bindparam("at"),
        ).on_conflict_do_nothing(index_elements=["channel"])
        self._claim: Executable
        if self._postgres:
            self._claim = _timed(_CLAIM_POSTGRES, "now", "until").columns(
                *OutboxRow.__table__.columns, column("unsure", Boolean),  # type: ignore[attr-defined]
                column("ready", UTCDateTime))
        else:
            self._claim = _timed(_PICK_SQLITE, "now")
        self._release = _timed(_RELEASE, "now", "next")
        self._keep = _timed(_KEEP, "now", "next", "until")
        self._next_heads = _timed(_NEXT_HEADS, "now")
        self._give_back = text(_GIVE_BACK)
        table: Any = OutboxRow.__table__  # type: ignore[attr-defined]
        self._save_state = sa_update(table).where(table.c.id == bindparam("row_id")).values(
            {name: bindparam(f"v_{name}") for name in DELIVERY_STATE})
        # SQLite's claim after the pick: lease the conversations, then mark each head in
        # flight and read it back as it now is (UPDATE … RETURNING, SQLite 3.35+).
        self._lease = sa_update(channels).where(
            channels.c.channel.in_(bindparam("channels", expanding=True))).values(
            owner=bindparam("owner"), lease_until=bindparam("until"))
        now = bindparam("now", type_=UTCDateTime)
        self._attempt = sa_update(table).where(
            table.c.id.in_(bindparam("heads", expanding=True))).values(
            in_flight=True, attempts=table.c.attempts + 1,
            first_tried_at=func.coalesce(table.c.first_tried_at, now)).returning(*table.columns)

    def enqueue(self, item: OutboxItem) -> tuple[OutboxItem, bool]:
        """Store unless the key exists (insert first; the unique key decides), and make
        sure its conversation has a lease row.

        Two prebuilt core statements on the unit of work's connection: this runs inside
        every lead intake, so no ORM row is built for it.
        """
        conversation = item.conversation
        if conversation not in self._known:
            with rows.connection(self._engine) as conn:
                # DO NOTHING takes no lock on an existing row: intakes never queue on it.
                # A new conversation counts as served when its first message is queued:
                # it takes its turn after those waiting longer (round-robin, see `claim`).
                conn.execute(self._add_channel, {"channel": conversation,
                                                 "at": item.created_at})
            # Lease rows are never deleted: once one is committed, later messages to the
            # conversation need not ask again (one statement less per lead).
            rows.after_commit(self._engine, lambda: self._known.add(conversation))
        new_id = rows.insert_values(self._engine, OutboxRow, convert.outbox_row(item),
                                    unique=True)
        if new_id is None:
            existing = self.get(item.key)
            if existing is None:
                raise IntegrityError("INSERT", None, Exception(
                    "outbox: a unique key other than the message key exists"))
            return existing, False
        return dataclasses.replace(item, id=new_id, channel=item.conversation), True

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

    def rewrite_unsent(self, key: str, message: Message) -> bool:
        """One conditional UPDATE: the row changes only while no claim has touched it (a
        claim marks its head in flight in the same kind of single statement)."""
        with rows.unit(self._engine) as session:
            result = session.execute(
                sa_update(OutboxRow)
                .where(col(OutboxRow.key) == key,
                       col(OutboxRow.status) == OutboxStatus.PENDING.value,
                       col(OutboxRow.in_flight).is_(False), col(OutboxRow.attempts) == 0)
                .values(message=message.to_dict()))
            return getattr(result, "rowcount", 0) == 1

    def claim(self, *, owner: str, now: datetime, lease: timedelta,
              limit: int) -> list[Claim]:
        """Lease up to `limit` conversations that may send now and record the attempt on
        each one's oldest pending message, in one transaction (see _PICK for the order)."""
        until = now + lease
        params = {"owner": owner, "until": until, "now": now, "limit": limit}
        if self._postgres:
            with rows.writing(self._engine) as conn:
                found: list[Any] = list(conn.execute(self._claim, params))
                rows.forget(self._engine, OutboxRow, [r.id for r in found])
            # RETURNING keeps no order: put them back in the order they were picked.
            found = sorted(found, key=lambda r: (-r.priority, r.ready, r.id))
            return [Claim(item=convert.outbox_item(r), unsure=bool(r.unsure),
                          lease_until=until) for r in found]
        # SQLite: the transaction takes the write lock first, so what is picked stays free
        # until it is leased in the same transaction.
        with rows.writing(self._engine) as conn:
            picked = conn.execute(self._claim, params).all()
            if not picked:
                return []
            conn.execute(self._lease, {"channels": [p.channel for p in picked],
                                       "owner": owner, "until": until})
            heads = [int(p.head) for p in picked]
            returned: list[Any] = list(conn.execute(self._attempt, {"heads": heads,
                                                                    "now": now}))
            attempted = {r.id: convert.outbox_item(r) for r in returned}
            rows.forget(self._engine, OutboxRow, heads)
        return [Claim(item=attempted[int(p.head)], unsure=bool(p.unsure), lease_until=until)
                for p in picked]

    def release(self, conversation: str, *, owner: str, now: datetime,
                next_send_at: datetime | None, done: Sequence[OutboxItem] = (),
                unsent: Sequence[Claim] = ()) -> None:
        """Give the lease back (only if it is still ours), saving the delivery state of the
        messages worked under it (`done`) in the same transaction; claims in `unsent` are
        given back as they were, while the lease is still ours (no one else has touched
        them). Content is left alone: a revision saved meanwhile is not overwritten.

        Prebuilt core statements on a plain connection: this runs once per lease worked,
        and an ORM bulk update cost more than the rest of a send."""
        with rows.writing(self._engine) as conn:
            # The lease row first, like a claim (lease row, then message): a claim taking
            # over at this instant skips it or waits, never deadlocks with us.
            released = conn.execute(self._release, {"next": next_send_at, "now": now,
                                                    "channel": conversation, "owner": owner})
            self._save(conn, done)
            if unsent and getattr(released, "rowcount", 0) == 1:
                conn.execute(self._give_back, [{"row_id": c.item.id, "unsure": c.unsure}
                                               for c in unsent])
                rows.forget(self._engine, OutboxRow, [c.item.id for c in unsent])

    def keep_or_release(self, conversation: str, *, owner: str, now: datetime,
                        lease: timedelta, next_send_at: datetime,
                        done: Sequence[OutboxItem], limit: int = 1) -> list[Claim]:
        """Save the delivery state of `done` and, while the lease is still ours and the
        conversation's oldest pending messages may go now, keep the lease for `lease` more
        and record the attempt on up to `limit` of them (oldest first, stopping at the
        first that may not go), in one transaction: one commit per run of messages for a
        conversation worked without a break. Otherwise give the lease back as `release`
        does, and return no claims."""
        until = now + lease
        with rows.writing(self._engine) as conn:
            # The lease row first, as in every claim and release (no deadlock with them).
            kept = conn.execute(self._keep, {"channel": conversation, "owner": owner,
                                             "now": now, "next": next_send_at,
                                             "until": until})
            self._save(conn, done)
            if getattr(kept, "rowcount", 0) != 1:
                return []  # no longer ours: nothing to keep or give back
            heads: list[Any] = []
            for head in conn.execute(self._next_heads, {"channel": conversation,
                                                        "now": now, "limit": limit}):
                if not head.may_send:
                    break
                heads.append(head)
            if not heads:
                conn.execute(self._release, {"next": next_send_at, "now": now,
                                             "channel": conversation, "owner": owner})
                return []
            ids = [int(h.head) for h in heads]
            returned: dict[int, Any] = {r.id: r for r in conn.execute(
                self._attempt, {"heads": ids, "now": now})}
            rows.forget(self._engine, OutboxRow, ids)
        return [Claim(item=convert.outbox_item(returned[int(h.head)]), unsure=bool(h.unsure),
                      lease_until=until) for h in heads]

    def _save(self, conn: Any, done: Sequence[OutboxItem]) -> None:
        """Write the delivery state (not the content) of `done` on the transaction `conn`."""
        if not done:
            return
        conn.execute(self._save_state, [{"row_id": item.id, **{
            f"v_{name}": value for name, value in convert.delivery_state(item).items()}}
            for item in done])
        rows.forget(self._engine, OutboxRow, [item.id for item in done])

    def pause(self, scope: str, *, until: datetime) -> None:
        """Hold claims of `scope` until `until` (a later pause already there wins)."""
        insert = pg_insert if self._postgres else sqlite_insert
        statement = insert(DeliveryPauseRow).values(scope=scope, until=until)
        with rows.unit(self._engine) as session:
            session.execute(statement.on_conflict_do_update(
                index_elements=["scope"], set_={"until": case(
                    (statement.excluded.until > DeliveryPauseRow.until,
                     statement.excluded.until), else_=DeliveryPauseRow.until)}))

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


