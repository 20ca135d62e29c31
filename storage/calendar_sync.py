"""Calendar sync state in SQL: cursor, last good absences and failures per OSC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from bot.ports.calendars import CalendarSyncState
from storage import convert, rows
from storage.tables import (
    CalendarSyncRow,
)


class SqlCalendarSync:
    """CalendarSyncRepository on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, osc_email: str) -> CalendarSyncState | None:
        """State for an OSC."""
        with rows.unit(self._engine) as session:
            row = session.get(CalendarSyncRow, osc_email)
            return None if row is None else _sync_state(row)

    def get_many(self, osc_emails: Sequence[str]) -> dict[str, CalendarSyncState]:
        """States by email, in one query per thousand OSCs."""
        found: dict[str, CalendarSyncState] = {}
        wanted = list(osc_emails)
        with rows.unit(self._engine) as session:
            for at in range(0, len(wanted), 1000):
                query = select(CalendarSyncRow).where(
                    col(CalendarSyncRow.osc_email).in_(wanted[at:at + 1000]))
                found.update((r.osc_email, _sync_state(r)) for r in session.exec(query))
        return found

    def save(self, state: CalendarSyncState) -> None:
        """Insert or replace."""
        values: dict[str, Any] = {
            "cursor": state.cursor, "absences": convert.absences_json(state.absences),
            "last_good_at": state.last_good_at,
            "consecutive_failures": state.consecutive_failures,
            "last_error": state.last_error, "stale": state.stale,
            "event_count": state.event_count, "suspect_since": state.suspect_since}
        with rows.unit(self._engine) as session:
            row = session.get(CalendarSyncRow, state.osc_email)
            if row is None:
                session.add(CalendarSyncRow(osc_email=state.osc_email, **values))
            else:
                row.sqlmodel_update(values)


def _sync_state(row: CalendarSyncRow) -> CalendarSyncState:
    return CalendarSyncState(
        osc_email=row.osc_email, cursor=dict(row.cursor or {}),
        absences=convert.absences_from_json(row.absences),
        last_good_at=row.last_good_at, consecutive_failures=row.consecutive_failures,
        last_error=row.last_error, stale=row.stale, event_count=row.event_count,
        suspect_since=row.suspect_since)
