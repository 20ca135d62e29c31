"""Job slots and leased work items, as the scheduler uses them.

A tick of a job belongs to a slot (whole intervals since the epoch); the one replica
that claims the slot runs it. A job split into items enqueues the slot's items once,
and every replica leases a batch, works it and marks it done until none is left; a
replica that dies leaves its items leased until the lease runs out, and the next one to
ask takes them over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.ports.clock import Clock
from bot.ports.jobs import JobRuns, WorkItem, WorkItems


def slot_of(now: datetime, every: timedelta) -> int:
    """The tick a run belongs to: whole intervals since the epoch."""
    return int(now.timestamp() // every.total_seconds())


class JobSlots:
    """This replica's side of the job slots and work items every replica shares."""

    def __init__(self, *, runs: JobRuns, items: WorkItems, clock: Clock, owner: str) -> None:
        self._runs = runs
        self._items = items
        self._clock = clock
        self.owner = owner

    def claim(self, job: str, slot: int) -> bool:
        """True when this replica is the one to run the job's slot."""
        return self._runs.claim(job=job, slot=slot, owner=self.owner, now=self._clock.now())

    def finish(self, job: str, slot: int, *, outcome: str) -> None:
        """Record how this replica's run of the slot ended."""
        self._runs.finish(job=job, slot=slot, now=self._clock.now(), outcome=outcome)

    def enqueue(self, job: str, slot: int, keys: Sequence[str]) -> int:
        """Add the slot's items (those there already, done or not, are left alone)."""
        return self._items.enqueue(job=job, slot=slot, keys=list(keys), now=self._clock.now())

    def claim_items(self, job: str, *, lease: timedelta, limit: int) -> list[WorkItem]:
        """Lease up to `limit` of the job's free items to this replica."""
        return self._items.claim(job=job, owner=self.owner, now=self._clock.now(), lease=lease,
                                 limit=limit)

    def done(self, items: Sequence[WorkItem]) -> int:
        """Mark worked items done (those whose lease is still ours)."""
        return self._items.done(items, now=self._clock.now())

    def release(self, items: Sequence[WorkItem]) -> None:
        """Hand items back unworked, so another replica need not wait out the lease."""
        self._items.release(items)

    def prune(self, *, before: datetime) -> int:
        """Forget work items enqueued before `before`."""
        return self._items.prune(before=before)
