"""Inbound dedupe on SQL with the whole port: forgetting a failed id and pruning by age.

The insert-first dedupe (`first_time`) is the delivery store's; this adds what the
jobs and the interactive handlers need.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text

from storage import rows
from storage.outbox import SqlInbound
from storage.types import UTCDateTime

_PRUNE = text("DELETE FROM inbound_events WHERE received_at < :before").bindparams(
    bindparam("before", type_=UTCDateTime()))


class SqlInboundEvents(SqlInbound):
    """InboundEvents on SQL: unique on (source, event_id), shared by every replica."""

    def forget(self, *, source: str, event_id: str) -> None:
        """Delete one id (same trimming as `first_time`)."""
        with rows.unit(self._engine) as session:
            session.execute(text("DELETE FROM inbound_events WHERE source = :source "
                                 "AND event_id = :event_id"),
                            {"source": source, "event_id": event_id[:200]})

    def prune(self, *, before: datetime) -> int:
        """Delete ids received before `before` (uses ix_inbound_events_received_at)."""
        with rows.unit(self._engine) as session:
            result = session.execute(_PRUNE, {"before": before})
            return int(getattr(result, "rowcount", 0) or 0)
