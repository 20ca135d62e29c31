"""Job slot claims and leased work items in memory, with the SQL versions' rules."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.ports.jobs import WorkItem


@dataclass
class _Row:
    job: str
    key: str
    slot: int
    created_at: datetime
    owner: str | None = None
    lease_until: datetime | None = None
    done_at: datetime | None = None


class InMemoryWorkItems:
    """WorkItems in memory, with the SQL version's rules (thread-safe, for tests)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], _Row] = {}
        self._lock = threading.Lock()

    def enqueue(self, *, job: str, slot: int, keys: Sequence[str], now: datetime) -> int:
        """Insert the keys not yet in the slot."""
        with self._lock:
            new = 0
            for key in dict.fromkeys(keys):
                if (job, key, slot) not in self.rows:
                    self.rows[(job, key, slot)] = _Row(job, key, slot, now)
                    new += 1
            return new

    def claim(self, *, job: str, owner: str, now: datetime, lease: timedelta,
              limit: int) -> list[WorkItem]:
        """Lease free items, oldest slot first; one live lease per key."""
        with self._lock:
            free = sorted((r for r in self.rows.values() if r.job == job and self._free(r, now)),
                          key=lambda r: (r.slot, r.created_at, r.key))
            claimed = []
            for row in free[:max(limit, 0)]:
                row.owner, row.lease_until = owner, now + lease
                claimed.append(WorkItem(job, row.key, row.slot, owner, now + lease))
            return claimed

    def done(self, items: Sequence[WorkItem], *, now: datetime) -> int:
        """Mark done the items whose lease is still ours."""
        with self._lock:
            marked = 0
            for item in items:
                row = self._ours(item)
                if row is not None:
                    row.done_at = now
                    marked += 1
            return marked

    def release(self, items: Sequence[WorkItem]) -> None:
        """Clear leases still ours."""
        with self._lock:
            for item in items:
                row = self._ours(item)
                if row is not None:
                    row.owner = row.lease_until = None

    def pending(self, *, job: str) -> int:
        """Items not done whose key has no newer slot."""
        with self._lock:
            return sum(1 for r in self.rows.values() if r.job == job and r.done_at is None
                       and not self._newer(r))

    def prune(self, *, before: datetime) -> int:
        """Drop items created before `before`."""
        with self._lock:
            old = [k for k, r in self.rows.items() if r.created_at < before]
            for k in old:
                del self.rows[k]
            return len(old)

    def item(self, job: str, key: str, slot: int) -> WorkItem | None:
        """The stored state of one item, as a WorkItem (tests look at owners and leases)."""
        row = self.rows.get((job, key, slot))
        if row is None or row.owner is None or row.lease_until is None:
            return None
        return WorkItem(job, key, slot, row.owner, row.lease_until)

    def _free(self, row: _Row, now: datetime) -> bool:
        if row.done_at is not None or (row.lease_until is not None and row.lease_until >= now):
            return False
        return not self._newer(row) and not any(
            o.job == row.job and o.key == row.key and o.slot < row.slot and o.done_at is None
            and o.lease_until is not None and o.lease_until >= now for o in self.rows.values())

    def _newer(self, row: _Row) -> bool:
        return any(o.job == row.job and o.key == row.key and o.slot > row.slot
                   for o in self.rows.values())

    def _ours(self, item: WorkItem) -> _Row | None:
        row = self.rows.get((item.job, item.key, item.slot))
        if row is None or row.done_at is not None or row.owner != item.owner:
            return None
        return row


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
