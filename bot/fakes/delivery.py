"""In-memory fakes of the delivery ports: the outbox with conversation leases, the unit
of work, and inbound event dedupe. Strict like the SQL versions: a lease held by another
owner is refused, a rolled-back transaction leaves nothing behind.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.messages import Message
from bot.ports.delivery import Claim, OutboxItem, OutboxStatus


@dataclass
class _Lease:
    owner: str | None = None
    until: datetime | None = None
    next_send_at: datetime | None = None
    last_served_at: datetime | None = None


class InMemoryOutbox:
    """OutboxRepository in memory."""

    def __init__(self) -> None:
        self.rows: dict[int, OutboxItem] = {}
        self.leases: dict[str, _Lease] = {}
        self.pauses: dict[str, datetime] = {}
        self._next_id = 1

    def enqueue(self, item: OutboxItem) -> tuple[OutboxItem, bool]:
        """Store unless the key exists."""
        existing = self.get(item.key)
        if existing is not None:
            return existing, False
        stored = dataclasses.replace(item, id=self._next_id, channel=item.conversation)
        self.rows[self._next_id] = stored
        self._next_id += 1
        self.leases.setdefault(stored.channel, _Lease(last_served_at=stored.created_at))
        return stored, True

    def get(self, key: str) -> OutboxItem | None:
        """The item with this key."""
        return next((i for i in self.rows.values() if i.key == key), None)

    def due(self, *, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """Pending items due now, oldest first."""
        return [i for i in self.pending(limit=len(self.rows))
                if i.next_attempt_at is None or i.next_attempt_at <= now][:limit]

    def pending(self, *, limit: int = 100) -> list[OutboxItem]:
        """Every pending item, oldest first."""
        rows = [i for i in self.rows.values() if i.status is OutboxStatus.PENDING]
        return sorted(rows, key=lambda i: i.id or 0)[:limit]

    def save(self, item: OutboxItem) -> OutboxItem:
        """Update an item."""
        assert item.id is not None
        if item.id not in self.rows:
            raise KeyError(f"no outbox item {item.id}")
        self.rows[item.id] = item
        return item

    def rewrite_unsent(self, key: str, message: Message) -> bool:
        """Replace the message while no deliverer has touched the item."""
        item = self.get(key)
        if (item is None or item.id is None or item.status is not OutboxStatus.PENDING
                or item.in_flight or item.attempts):
            return False
        self.rows[item.id] = dataclasses.replace(item, message=message)
        return True

    def claim(self, *, owner: str, now: datetime, lease: timedelta,
              limit: int) -> list[Claim]:
        """Lease conversations that may send now (urgent first, then the one ready the
        longest) and record the attempt on each one's oldest pending message."""
        heads: dict[str, OutboxItem] = {}
        for item in self.pending(limit=len(self.rows)):
            heads.setdefault(item.channel, item)
        ready: list[tuple[int, datetime, int, str]] = []
        for channel, head in heads.items():
            lease_row = self.leases[channel]
            due = head.next_attempt_at or head.created_at
            if ((lease_row.until is not None and lease_row.until >= now)
                    or (lease_row.next_send_at is not None and lease_row.next_send_at > now)
                    or not self._may_send(head, now)):
                continue
            since = max(due, lease_row.next_send_at or due)
            ready.append((-head.priority, since, head.id or 0, channel))
        claims = []
        for _, _, _, channel in sorted(ready)[:limit]:
            self.leases[channel].owner = owner
            self.leases[channel].until = now + lease
            claims.append(self._attempt(heads[channel], now=now, until=now + lease))
        return claims

    def _attempt(self, head: OutboxItem, *, now: datetime, until: datetime) -> Claim:
        """Record the attempt on a leased conversation's head: in flight, counted."""
        started = self.save(dataclasses.replace(
            head, in_flight=True, attempts=head.attempts + 1,
            first_tried_at=head.first_tried_at or now))
        return Claim(item=started, unsure=head.in_flight, lease_until=until)

    def _save_state(self, item: OutboxItem) -> None:
        """Save what delivery changes on `item`, keeping the stored content and target."""
        if item.id is None:
            return
        stored = self.rows[item.id]
        self.save(dataclasses.replace(
            item, message=stored.message, target=stored.target, key=stored.key,
            target_kind=stored.target_kind, channel=stored.channel,
            priority=stored.priority, created_at=stored.created_at))

    def _may_send(self, head: OutboxItem, now: datetime) -> bool:
        """A conversation's head is due and no shared rate-limit pause holds its kind."""
        if head.next_attempt_at is not None and head.next_attempt_at > now:
            return False
        scopes = {"all", head.target_kind} | ({"lookup"} if head.in_flight else set())
        return not any(self.pauses.get(scope, now) > now for scope in scopes)

    def release(self, conversation: str, *, owner: str, now: datetime,
                next_send_at: datetime | None, done: Sequence[OutboxItem] = (),
                unsent: Sequence[Claim] = ()) -> None:
        """Save the delivery state (not the content) of `done` and give the lease back,
        if still ours, with `unsent` claims as they were before them."""
        for item in done:
            self._save_state(item)
        lease = self.leases.get(conversation)
        if lease is not None and lease.owner == owner:
            self.leases[conversation] = _Lease(next_send_at=next_send_at, last_served_at=now)
            for claim in unsent:
                assert claim.item.id is not None
                stored = self.rows[claim.item.id]
                if stored.status is OutboxStatus.PENDING:
                    self.rows[claim.item.id] = dataclasses.replace(
                        stored, in_flight=claim.unsure, attempts=stored.attempts - 1)

    def keep_or_release(self, conversation: str, *, owner: str, now: datetime,
                        lease: timedelta, next_send_at: datetime,
                        done: Sequence[OutboxItem], limit: int = 1) -> list[Claim]:
        """Save `done`; keep the lease and claim the conversation's next messages that may
        go now (up to `limit`, in order), else give the lease back."""
        for item in done:
            self._save_state(item)
        lease_row = self.leases.get(conversation)
        heads: list[OutboxItem] = []
        if lease_row is not None and lease_row.owner == owner:
            for head in self.pending(limit=len(self.rows)):
                if head.channel != conversation:
                    continue
                if len(heads) == limit or not self._may_send(head, now):
                    break
                heads.append(head)
        if not heads:
            self.release(conversation, owner=owner, now=now, next_send_at=next_send_at)
            return []
        self.leases[conversation] = _Lease(owner=owner, until=now + lease,
                                           next_send_at=next_send_at, last_served_at=now)
        return [self._attempt(head, now=now, until=now + lease) for head in heads]

    def pause(self, scope: str, *, until: datetime) -> None:
        """Hold claims of `scope` until `until` (a later pause wins)."""
        self.pauses[scope] = max(until, self.pauses.get(scope, until))

    def recent(self, *, status: OutboxStatus | None = None,
               limit: int = 100) -> list[OutboxItem]:
        """Items, newest first."""
        rows = [i for i in self.rows.values() if status is None or i.status is status]
        return sorted(rows, key=lambda i: -(i.id or 0))[:limit]

    def counts(self) -> dict[str, int]:
        """Items per status."""
        counts = {s.value: 0 for s in OutboxStatus}
        for item in self.rows.values():
            counts[item.status.value] += 1
        return counts


class InMemoryTransactions:
    """Transactions over in-memory repositories: a snapshot restored on error."""

    def __init__(self, repositories: Sequence[object]) -> None:
        self._repositories = list(repositories)
        self._depth = 0
        self._lock = threading.RLock()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Roll every repository back to its state at the start when the block raises."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            snapshot = [_snapshot(r) for r in self._repositories]
            self._depth = 1
            try:
                yield
            except BaseException:
                for repository, state in zip(self._repositories, snapshot, strict=True):
                    _restore(repository, state)
                raise
            finally:
                self._depth = 0


def _snapshot(holder: object, depth: int = 2) -> dict[str, Any]:
    """The state of an in-memory repository: its containers copied one level (the records
    in them are immutable), its helper objects (a table) the same way, cheaply."""
    state: dict[str, Any] = {}
    for name, value in vars(holder).items():
        if isinstance(value, dict | list | set):
            state[name] = copy.copy(value)
        elif depth and hasattr(value, "__dict__") and not callable(value):
            state[name] = (value, _snapshot(value, depth - 1))
        else:
            state[name] = value
    return state


def _restore(holder: object, state: dict[str, Any]) -> None:
    for name, value in state.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict) and (
                hasattr(value[0], "__dict__")):
            _restore(value[0], value[1])
            value = value[0]
        setattr(holder, name, value)


class InMemoryInboundEvents:
    """InboundEvents in memory."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], datetime] = {}

    def first_time(self, *, source: str, event_id: str, now: datetime) -> bool:
        """True once per (source, id)."""
        if (source, event_id) in self.seen:
            return False
        self.seen[(source, event_id)] = now
        return True

    def forget(self, *, source: str, event_id: str) -> None:
        """Drop one id."""
        self.seen.pop((source, event_id), None)

    def prune(self, *, before: datetime) -> int:
        """Drop ids received before `before`."""
        old = [key for key, at in self.seen.items() if at < before]
        for key in old:
            del self.seen[key]
        return len(old)
