"""oscbot's own route table in SQL: who receives an OSC's traffic on a channel."""

from __future__ import annotations

from sqlalchemy import Engine, bindparam
from sqlmodel import col, select

from storage import rows
from storage.tables import (
    RouteRow,
)

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
