"""One bad row never stops a job: each item runs on its own, a failing one is skipped.

A job hands every item (a lead, a task, a coverage, a calendar) to `ItemGuard.run`.
When the item raises, the guard records why in the audit log, tells the managers in
the team channel once (the outbox key names the job and the item, so a row that keeps
failing is announced a single time), logs the item's id and the error's type (never
its data) and lets the job go on with the rest. The item is tried again next run, so a
row that was only briefly unreadable heals by itself.

If recording the failure fails too (the database itself is down), that error is raised:
a job that cannot reach its storage should fail as a whole, not report every row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from bot.delivery.notify import Notifier
from bot.messages import Context, Header, Message, Section
from bot.messages import mention as at
from bot.model import AuditEntry
from bot.ports.clock import Clock
from bot.ports.records import AuditLog

log = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C")
PAGE = 500


class ItemGuard:
    """Runs one item of a job; a failure is recorded, announced once, and skipped."""

    def __init__(self, *, audit: AuditLog, notifier: Notifier, clock: Clock,
                 managers: Sequence[str]) -> None:
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._managers = tuple(managers)

    def run(self, job: str, subject: str, work: Callable[[], T]) -> T | None:
        """`work()`'s result, or None when it raised (recorded and announced once)."""
        try:
            return work()
        except Exception as exc:
            self.skipped(job, subject, exc)
            return None

    def skipped(self, job: str, subject: str, exc: Exception) -> None:
        """Record and announce (once per job and item) that an item was skipped."""
        error = type(exc).__name__
        detail = str(exc)[:300]
        first = self._notifier.post(key=f"job-skip:{job}:{subject}",
                                    message=skipped_alert(job=job, subject=subject, error=error,
                                                          managers=self._managers))
        if first:
            self._audit.record(AuditEntry(
                at=self._clock.now(), actor="scheduler", action="job.item_skipped",
                subject=subject, reason=f"{job}: {error}: {detail}"))
        # Only the type: an exception's text can carry a lead's details.
        log.log(logging.WARNING if first else logging.DEBUG,
                "job %s skipped %s after %s (retried next run)", job, subject, error)


def skipped_alert(*, job: str, subject: str, error: str, managers: Sequence[str]) -> Message:
    """The managers' notice that a job skipped an item it could not process."""
    who = " ".join(at(m) for m in managers)
    return Message(
        text=f"{job} skipped {subject}: {error}.",
        blocks=(
            Header("⚠️ A scheduled job skipped a record"),
            Section(f"{who} `{job}` could not process `{subject}` ({error}) and skipped it; "
                    "everything else was handled. It is retried on every run; the error "
                    "is in the audit log.".strip()),
            Context("You are told once per record."),
        ),
        mentions=tuple(managers),
    )


def paged(fetch: Callable[[C | None], list[T]], position: Callable[[T], C], *,
          size: int = PAGE) -> Iterator[T]:
    """Every row a keyset-paged query returns: `fetch(after)` gives the page after a
    position (None: the first), `position(row)` the position of a row."""
    after: C | None = None
    while True:
        page = fetch(after)
        yield from page
        if len(page) < size:
            return
        after = position(page[-1])
