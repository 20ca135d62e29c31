"""APScheduler wiring: each registered job on its interval, never overlapping itself."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from handlers.context import AppContext
from schedules.jobs import JOBS, did_something

log = logging.getLogger(__name__)


def build_scheduler(ctx: AppContext, *,
                    on_run: Callable[[str, str], None] | None = None) -> BackgroundScheduler:
    """A background scheduler running every job in the registry; `on_run(job, outcome)`
    hears of every run (metrics)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for entry in JOBS:
        scheduler.add_job(
            _runner(entry.name, entry.run, ctx, on_run), "interval",
            seconds=entry.every.total_seconds(), id=entry.name, name=entry.name,
            max_instances=1, coalesce=True, replace_existing=True,
        )
    return scheduler


def _runner(
    name: str, run: Callable[[AppContext], str], ctx: AppContext,
    on_run: Callable[[str, str], None] | None,
) -> Callable[[], None]:
    def wrapped() -> None:
        outcome = "ok"
        try:
            summary = run(ctx)
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
