"""SQL repositories for the routing journal, audit log, outbox, calendar state,
routes and people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.config import AppConfig
from bot.errors import StaleWrite
from bot.ports import AuditEntry, CalendarSyncState, RoutingSwitch
from storage import convert, rows
from storage.tables import (
    AuditRow,
    CalendarSyncRow,
    PersonRow,
    RouteRow,
    RoutingSwitchRow,
)


class SqlSwitches:
    """RoutingSwitchRepository on SQL; unique on (coverage_id, channel)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, *, coverage_id: int, channel: str) -> RoutingSwitch | None:
        """The switch for a coverage and channel."""
        with rows.unit(self._engine) as session:
            row = session.exec(select(RoutingSwitchRow).where(
                RoutingSwitchRow.coverage_id == coverage_id,
                RoutingSwitchRow.channel == channel)).first()
            return convert.switch(row) if row else None

    def save(self, switch: RoutingSwitch) -> RoutingSwitch:
        """Insert or update by (coverage_id, channel)."""
        values: dict[str, Any] = {
            "adapter": switch.adapter, "status": switch.status.value, "before": switch.before,
            "after": switch.after, "attempts": switch.attempts,
            "last_error": switch.last_error, "updated_at": switch.updated_at,
            "actor": switch.actor, "reason": switch.reason,
        }
        with rows.unit(self._engine) as session:
            row = session.exec(select(RoutingSwitchRow).where(
                RoutingSwitchRow.coverage_id == switch.coverage_id,
                RoutingSwitchRow.channel == switch.channel)).first()
        if row is None:
            if switch.version != 0:
                raise StaleWrite(f"switch {switch.channel} of coverage {switch.coverage_id} "
                                 "is gone")
            try:
                return rows.insert(self._engine, RoutingSwitchRow(
                    coverage_id=switch.coverage_id, channel=switch.channel, version=1,
                    **values), convert.switch)
            except IntegrityError:
                raise StaleWrite(f"switch {switch.channel} of coverage {switch.coverage_id} "
                                 "was started by someone else") from None
        return rows.update_versioned(self._engine, RoutingSwitchRow, row.id, switch.version,
                                     values, convert.switch, what="routing switch")

    def list(self, *, coverage_id: int) -> list[RoutingSwitch]:
        """Every switch of a coverage."""
        return rows.select_all(self._engine, select(RoutingSwitchRow)
                               .where(RoutingSwitchRow.coverage_id == coverage_id)
                               .order_by(col(RoutingSwitchRow.channel)), convert.switch)

class SqlAudit:
    """AuditLog on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, entry: AuditEntry) -> None:
        """Append an entry."""
        # A core insert: every lead and coverage change writes one, inside its unit.
        rows.insert_values(self._engine, AuditRow, {
            "at": entry.at, "actor": entry.actor, "action": entry.action,
            "subject": entry.subject, "reason": entry.reason, "before": entry.before,
            "after": entry.after})

    def list(self, *, subject: str | None = None) -> list[AuditEntry]:
        """Entries, oldest first."""
        query = select(AuditRow)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        with rows.unit(self._engine) as session:
            return [AuditEntry(at=r.at, actor=r.actor, action=r.action, subject=r.subject,
                               reason=r.reason, before=r.before, after=r.after)
                    for r in session.exec(query.order_by(col(AuditRow.id)))]


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


_ROUTE_TARGET = (select(RouteRow.target)
                 .where(col(RouteRow.osc_email) == bindparam("osc"),
                        col(RouteRow.channel) == bindparam("channel")).limit(1))


class SqlRoutes:
    """RouteRepository on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, *, osc_email: str, channel: str) -> str | None:
        """Current target."""
        # Every lead asks: a prebuilt statement on a plain connection, no ORM session.
        with rows.connection(self._engine) as conn:
            target: str | None = conn.execute(_ROUTE_TARGET, {"osc": osc_email,
                                                              "channel": channel}).scalar()
            return target

    def set(self, *, osc_email: str, channel: str, target: str | None) -> None:
        """Set or clear the target."""
        with rows.unit(self._engine) as session:
            row = session.exec(select(RouteRow).where(RouteRow.osc_email == osc_email,
                                                      RouteRow.channel == channel)).first()
            if target is None and row is not None:
                session.delete(row)
            elif target is not None and row is None:
                session.add(RouteRow(osc_email=osc_email, channel=channel, target=target))
            elif target is not None and row is not None:
                row.target = target


def sync_people(engine: Engine, config: AppConfig) -> int:
    """Upsert everyone in the config into the people table; returns how many changed."""
    changed = 0
    with rows.unit(engine) as session:
        for person in config.people:
            values: dict[str, Any] = {"name": person.name, "role": person.role.value,
                      "timezone": person.timezone, "slack_id": person.chat.slack,
                      "teams_id": person.chat.teams}
            row = session.exec(select(PersonRow).where(PersonRow.email == person.email)).first()
            if row is None:
                session.add(PersonRow(email=person.email, **values))
                changed += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                row.sqlmodel_update(values)
                changed += 1
    return changed
