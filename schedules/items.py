"""Jobs whose work grows with the team, split into leased items every replica works.

A split job lists its items (calendars, coverages, push channels) each tick; the
slot's items are enqueued once (unique on job, item and slot, so every replica may
enqueue: the slot's items exist even when the replica that won the slot died first).
Then every replica claims a batch, works it, marks it done, and claims again until
nothing is left. A replica that dies holding items leaves them leased; once the lease
runs out the next replica to ask takes them over (`take_over_work` asks every few
seconds on every replica). An item done in a slot is not done again in that slot.
A replica that is stopping claims no more items; the batch in hand is finished, or, if
the process ends first, taken over when its lease runs out.

Each item runs isolated (`ItemGuard`): one that fails is recorded, announced once and
marked done for the slot; the next slot tries it again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from threading import Event

from bot.context import AppContext

Tally = Counter[str]


@dataclass(frozen=True)
class Split:
    """How a job's work is split: its items now, how a batch of them is worked (counts
    of what happened), and how the counts read in the job's summary."""

    keys: Callable[[AppContext], Sequence[str]]
    work: Callable[[AppContext, Sequence[str]], Tally]
    describe: Callable[[AppContext, Tally], str]
    batch: int = 1
    # Longer than working one batch takes, or a slow replica's items are taken over
    # while it still works them (harmless, the work is idempotent, but wasted).
    lease: timedelta = timedelta(minutes=2)

    def run_all(self, ctx: AppContext) -> str:
        """Work every item here and now, without leases (`oscbot jobs run NAME`, the demo)."""
        return self.describe(ctx, self.work(ctx, list(self.keys(ctx))))


def enqueue(ctx: AppContext, name: str, split: Split, *, slot: int) -> int:
    """Add the slot's items (those there already, done or not, are left alone)."""
    return ctx.slots.enqueue(name, slot, split.keys(ctx))


def work_claimed(ctx: AppContext, name: str, split: Split, *,
                 stopping: Event | None = None) -> Tally | None:
    """Claim and work the job's free items a batch at a time until none is left (or the
    replica is stopping: it claims no more); the counts of what this replica did, or None
    when it found nothing to claim."""
    tally: Tally | None = None
    while stopping is None or not stopping.is_set():
        items = ctx.slots.claim_items(name, lease=split.lease, limit=split.batch)
        if not items:
            return tally
        try:
            done = split.work(ctx, [item.key for item in items])
        except BaseException:
            # The storage itself failed (items are isolated inside `work`): hand the
            # items back so another replica need not wait for the lease to run out. If
            # that fails too, the lease runs out by itself; the first error is the one.
            with suppress(Exception):
                ctx.slots.release(items)
            raise
        ctx.slots.done(items)
        tally = tally if tally is not None else Counter()
        tally.update(done)
        tally["items"] += len(items)
    return tally


def take_over(ctx: AppContext, splits: Sequence[tuple[str, Split]], *,
              stopping: Event | None = None) -> str:
    """Work whatever items of these jobs are free: never claimed, or their lease ran out."""
    worked = {name: tally for name, split in splits
              if (tally := work_claimed(ctx, name, split, stopping=stopping)) is not None}
    if not worked:
        return "0 items taken over"
    return "; ".join(f"{name}: {tally['items']} items taken over"
                     for name, tally in worked.items())
