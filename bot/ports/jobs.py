"""Job ports: claims of scheduled job slots (each tick runs once across replicas), and
leased work items: a job whose work grows with the team is split into items (one
calendar, one coverage, one push channel) that every replica claims and works.

A slot's items are enqueued idempotently (unique on job, item and slot); a claim leases
items for a while; an item marked done is not done again in that slot; an item whose
lease ran out (its replica died or hung) is claimed by the next replica that asks.
When a newer slot holds the same item, the older one is never claimed again, and an
item is not claimed while an older copy of it is still leased: one key is worked by one
replica at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class JobRuns(Protocol):
    """Claims of scheduled job slots, so each runs once across every replica."""

    def claim(self, *, job: str, slot: int, owner: str, now: datetime) -> bool:
        """True for the one caller that claims this job's slot; False for everyone else."""
        ...

    def finish(self, *, job: str, slot: int, now: datetime, outcome: str) -> None:
        """Record how the claimed run ended."""
        ...


@dataclass(frozen=True)
class WorkItem:
    """One claimed item of a job's slot, leased to `owner` until `lease_until`."""

    job: str
    key: str
    slot: int
    owner: str
    lease_until: datetime


class WorkItems(Protocol):
    """The work items of split jobs, shared by every replica."""

    def enqueue(self, *, job: str, slot: int, keys: Sequence[str], now: datetime) -> int:
        """Add the slot's items; those already there are left as they are. How many were new."""
        ...

    def claim(self, *, job: str, owner: str, now: datetime, lease: timedelta,
              limit: int) -> list[WorkItem]:
        """Lease up to `limit` of the job's items that are not done and not leased (or whose
        lease ran out), oldest slot first."""
        ...

    def done(self, items: Sequence[WorkItem], *, now: datetime) -> int:
        """Mark items done while their lease is still ours; how many were."""
        ...

    def release(self, items: Sequence[WorkItem]) -> None:
        """Give back leases that are still ours, so another replica may claim the items now."""
        ...

    def pending(self, *, job: str) -> int:
        """The job's items not done yet (the newest copy of each key)."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Forget items enqueued before `before`; how many were removed."""
        ...
