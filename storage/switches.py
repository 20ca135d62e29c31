"""The routing journal in SQL: one switch per coverage and channel, versioned."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.errors import StaleWrite
from bot.ports.routing import RoutingSwitch
from storage import convert, rows
from storage.tables import (
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


