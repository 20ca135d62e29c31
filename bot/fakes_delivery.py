"""In-memory fakes of the delivery ports: outbox with conversation leases, transactions,
job slot claims and inbound event dedupe. Strict like the SQL versions: a lease held by
another owner is refused, a rolled-back transaction leaves nothing behind.
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

from bot.ports import OutboxItem, OutboxStatus


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

    def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[str]:
        """Lease conversations that may send now, least recently served first."""
        waiting = {i.channel for i in self.rows.values() if i.status is OutboxStatus.PENDING}
        free = [c for c in waiting
                if (self.leases[c].until is None or self.leases[c].until < now)  # type: ignore[operator]
                and (self.leases[c].next_send_at is None
                     or self.leases[c].next_send_at <= now)]  # type: ignore[operator]
        heads: dict[str, int] = {}
        for item in self.rows.values():
            if item.status is OutboxStatus.PENDING:
                heads[item.channel] = min(heads.get(item.channel, item.id or 0), item.id or 0)
        free.sort(key=lambda c: (self.leases[c].last_served_at or now, heads[c]))
        for channel in free[:limit]:
            self.leases[channel].owner = owner
            self.leases[channel].until = now + lease
        return free[:limit]

    def head(self, conversation: str) -> OutboxItem | None:
        """The oldest pending item of a conversation."""
        return next((i for i in self.pending(limit=len(self.rows))
                     if i.channel == conversation), None)

    def begin_attempt(self, item: OutboxItem, *, owner: str, now: datetime) -> OutboxItem | None:
        """Mark in flight if `owner` still holds the lease."""
        lease = self.leases.get(item.channel)
        if lease is None or lease.owner != owner or lease.until is None or lease.until < now:
            return None
        started = dataclasses.replace(item, in_flight=True, attempts=item.attempts + 1,
                                      first_tried_at=item.first_tried_at or now)
        return self.save(started)

    def release(self, conversation: str, *, owner: str, now: datetime,
                next_send_at: datetime | None) -> None:
        """Give the lease back."""
        lease = self.leases.get(conversation)
        if lease is not None and lease.owner == owner:
            self.leases[conversation] = _Lease(next_send_at=next_send_at, last_served_at=now)

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


class InMemoryJobRuns:
    """JobRuns in memory."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, int], tuple[str, str]] = {}

    def claim(self, *, job: str, slot: int, owner: str, now: datetime) -> bool:
        """First claim of a slot wins."""
        if (job, slot) in self.runs:
            return False
        self.runs[(job, slot)] = (owner, "")
        return True

    def finish(self, *, job: str, slot: int, now: datetime, outcome: str) -> None:
        """Record the outcome."""
        owner, _ = self.runs[(job, slot)]
        self.runs[(job, slot)] = (owner, outcome)


class InMemoryInbound:
    """InboundEvents in memory."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], datetime] = {}

    def first_time(self, *, source: str, event_id: str, now: datetime) -> bool:
        """True once per (source, id)."""
        if (source, event_id) in self.seen:
            return False
        self.seen[(source, event_id)] = now
        return True
