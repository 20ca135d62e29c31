"""`oscbot outbox`: what is queued, sent and failed, and sending a failed message again."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bot.delivery.admin import OutboxAdmin
from bot.errors import InvalidInput, NotFound


def list_outbox(outbox: OutboxAdmin, *, console: Console, failed_only: bool,
                limit: int) -> int:
    """Print the newest items (or only the failed ones) with their state and last error."""
    counts = outbox.counts()
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
    items = outbox.recent(failed_only=failed_only, limit=limit)
    if not items:
        return 0
    table = Table("key", "to", "status", "tries", "created", "last error")
    for item in items:
        table.add_row(item.key, item.conversation, item.status.value, str(item.attempts),
                      item.created_at.strftime("%Y-%m-%d %H:%M"), item.last_error[:80])
    console.print(table)
    return 0


def retry_outbox(outbox: OutboxAdmin, *, key: str, console: Console) -> int:
    """Queue a failed message again, with a fresh retry window; refuses anything else."""
    try:
        outbox.retry(key)
    except (NotFound, InvalidInput) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    console.print(f"{key} queued again; a running oscbot sends it within seconds")
    return 0
