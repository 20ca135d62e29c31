"""APScheduler wiring: each registered job on its interval, never overlapping itself,
and once per tick across every replica.

APScheduler 3.x runs in each process (its shared job stores would run jobs twice);
before a run, the process claims the job's slot (time // interval) in `job_runs`,
unique on (job, slot): one replica runs it, the others skip that tick. A job split into
items (schedules.items) is worked by every replica, each item once per slot.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from threading import Event

from apscheduler.schedulers.background import BackgroundScheduler

from bot.context import AppContext
from bot.errors import InvalidInput
from bot.jobs.slots import slot_of
from schedules import items
from schedules.items import Split
from schedules.jobs import JOBS, TAKE_OVER, Job, did_something

log = logging.getLogger(__name__)


def parse_job_every(text: str) -> dict[str, timedelta]:
    """OSCBOT_JOB_EVERY, `name=seconds,...`: intervals that differ from the registry's."""
    known = {j.name for j in JOBS}
    every: dict[str, timedelta] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, seconds = part.partition("=")
        try:
            value = timedelta(seconds=float(seconds))
        except ValueError:
            value = timedelta(0)
        if name not in known or value <= timedelta(0):
            raise InvalidInput(f"OSCBOT_JOB_EVERY: {part!r} is not job=seconds for a known "
                               f"job ({', '.join(sorted(known))})", field="OSCBOT_JOB_EVERY")
        every[name] = value
    return every


def build_scheduler(ctx: AppContext, *,
                    on_run: Callable[[str, str], None] | None = None,
                    every: Mapping[str, timedelta] | None = None,
                    stopping: Event | None = None) -> BackgroundScheduler:
    """A background scheduler running every job in the registry; `on_run(job, outcome)`
    hears of every run (metrics); `every` overrides intervals by job name; once
    `stopping` is set, split jobs claim no more items."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for entry in JOBS:
        interval = (every or {}).get(entry.name, entry.every)
        scheduler.add_job(
            _runner(entry.name, partial(run_tick, ctx, entry, interval, stopping=stopping),
                    on_run), "interval",
            seconds=interval.total_seconds(), id=entry.name, name=entry.name,
            max_instances=1, coalesce=True, replace_existing=True,
        )
    return scheduler


def run_tick(ctx: AppContext, entry: Job, every: timedelta, *,
             stopping: Event | None = None) -> str | None:
    """One scheduled tick of a job on this replica: once per slot across the cluster,
    on every replica, or as leased items; None when this replica had nothing to do."""
    if entry.name == TAKE_OVER:
        # As its registry entry, but told when the replica stops, like the split jobs.
        return items.take_over(ctx, [(j.name, j.split) for j in JOBS if j.split is not None],
                               stopping=stopping)
    if entry.every_replica:
        return entry.run(ctx)
    if entry.split is not None:
        return run_split(ctx, entry.name, every, entry.split, stopping=stopping)
    return run_once_per_slot(ctx, entry.name, every, entry.run)


def run_split(ctx: AppContext, name: str, every: timedelta, split: Split, *,
              stopping: Event | None = None) -> str | None:
    """Enqueue the slot's items and work them with every other replica: the replica that
    claims the slot records the run; None when this one found nothing left to work."""
    now = ctx.clock.now()
    slot = slot_of(now, every)
    won = ctx.slots.claim(name, slot)
    summary = "failed"
    try:
        # Every replica enqueues (idempotent): the items exist even if the slot's winner
        # died before it got that far.
        items.enqueue(ctx, name, split, slot=slot)
        tally = items.work_claimed(ctx, name, split, stopping=stopping)
        if tally is None and not won:
            return None
        summary = split.describe(ctx, tally or Counter())
        return summary
    finally:
        if won:
            ctx.slots.finish(name, slot, outcome=summary)


def run_once_per_slot(ctx: AppContext, name: str, every: timedelta,
                      run: Callable[[AppContext], str]) -> str | None:
    """Claim this job's current slot and run it; None when another replica has the slot."""
    now = ctx.clock.now()
    slot = slot_of(now, every)
    if not ctx.slots.claim(name, slot):
        return None
    summary = "failed"
    try:
        summary = run(ctx)
        return summary
    finally:
        ctx.slots.finish(name, slot, outcome=summary)


def _runner(name: str, tick: Callable[[], str | None],
            on_run: Callable[[str, str], None] | None) -> Callable[[], None]:
    def wrapped() -> None:
        outcome = "ok"
        try:
            summary = tick()
            if summary is None:
                outcome = "skipped"
            else:
                # A pass that found nothing to do is routine: DEBUG, or the log drowns in it.
                log.log(logging.INFO if did_something(summary) else logging.DEBUG,
                        "job %s: %s", name, summary)
        except Exception:
            # One failing job must not stop the scheduler; the next tick retries.
            outcome = "failed"
            log.exception("job %s failed", name)
        if on_run is not None:
            on_run(name, outcome)

    return wrapped
