"""Inbound dedupe on SQL: Slack event ids and retries, interactive payloads and Teams
activity ids, unique on (source, event_id) and shared by every replica; an id is
inserted first (a duplicate is a retry or a replay), forgotten when its handling failed,
and pruned by age."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.exc import IntegrityError

from storage import rows
from storage.tables import InboundEventRow
from storage.types import UTCDateTime

_PRUNE = text("DELETE FROM inbound_events WHERE received_at < :before").bindparams(
    bindparam("before", type_=UTCDateTime()))


class SqlInboundEvents:
    """InboundEvents on SQL: unique on (source, event_id), shared by every replica."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def first_time(self, *, source: str, event_id: str, now: datetime) -> bool:
        """Insert the id; a duplicate is a retry or a replay."""
        try:
            with rows.unit(self._engine) as session:
                session.add(InboundEventRow(source=source, event_id=event_id[:200],
                                            received_at=now))
                session.flush()
        except IntegrityError:
            return False
        return True

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
