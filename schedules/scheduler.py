"""APScheduler wiring: each registered job on its interval, never overlapping itself."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from handlers.context import AppContext
from schedules.jobs import JOBS

log = logging.getLogger(__name__)


def build_scheduler(ctx: AppContext) -> BackgroundScheduler:
    """A background scheduler running every job in the registry."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for entry in JOBS:
        scheduler.add_job(
            _runner(entry.name, entry.run, ctx), "interval",
            seconds=entry.every.total_seconds(), id=entry.name, name=entry.name,
            max_instances=1, coalesce=True, replace_existing=True,
        )
    return scheduler


def _runner(
    name: str, run: Callable[[AppContext], str], ctx: AppContext
) -> Callable[[], None]:
    def wrapped() -> None:
        try:
            summary = run(ctx)
            log.info("job %s: %s", name, summary)
        except Exception:
            # One failing job must not stop the scheduler; the next tick retries.
            log.exception("job %s failed", name)

    return wrapped
