"""`oscbot outbox`: what is queued, sent and failed, and sending a failed message again."""

from __future__ import annotations

import dataclasses

from rich.console import Console
from rich.table import Table

from bot.delivery.outbox import OutboxStatus
from bot.ports.clock import Clock
from bot.ports.delivery import OutboxRepository


def list_outbox(outbox: OutboxRepository, *, console: Console, failed_only: bool,
                limit: int) -> int:
    """Print the newest items (or only the failed ones) with their state and last error."""
    counts = outbox.counts()
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
    items = outbox.recent(status=OutboxStatus.FAILED if failed_only else None, limit=limit)
    if not items:
        return 0
    table = Table("key", "to", "status", "tries", "created", "last error")
    for item in items:
        table.add_row(item.key, item.conversation, item.status.value, str(item.attempts),
                      item.created_at.strftime("%Y-%m-%d %H:%M"), item.last_error[:80])
    console.print(table)
    return 0


def retry_outbox(outbox: OutboxRepository, *, key: str, clock: Clock,
                 console: Console) -> int:
    """Queue a failed message again, with a fresh retry window; refuses anything else."""
    item = outbox.get(key)
    if item is None:
        console.print(f"[red]error:[/] no outbox message with key {key!r}", highlight=False)
        return 2
    if item.status is not OutboxStatus.FAILED:
        console.print(f"[red]error:[/] {key} is {item.status.value}, not failed; "
                      "only failed messages are retried", highlight=False)
        return 2
    outbox.save(dataclasses.replace(item, status=OutboxStatus.PENDING, next_attempt_at=None,
                                    created_at=clock.now(), last_error=""))
    console.print(f"{key} queued again; a running oscbot sends it within seconds")
    return 0
