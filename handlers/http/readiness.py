"""`/readyz`: may this replica take traffic? The database answers, its schema is the one
this release expects, and the scheduler runs. `/healthz` only says the process is alive,
so an orchestrator restarts a hung process but merely stops routing to an unready one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import engine_from_url
from storage.migrate import known_head


@dataclass
class Readiness:
    """What /readyz checks; the server fills in the scheduler once it runs."""

    database_url: str | None
    scheduler: Any = None
    stopping: bool = False
    _engine: Engine | None = field(default=None, repr=False)

    def check(self) -> dict[str, bool]:
        """Each check by name; ready when all are true."""
        database, migrated = self._database()
        return {"database": database, "migrations": migrated,
                "scheduler": bool(self.scheduler is not None and self.scheduler.running),
                "accepting": not self.stopping}

    def _database(self) -> tuple[bool, bool]:
        if self._engine is None:
            self._engine = engine_from_url(self.database_url)
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                current = connection.execute(
                    text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            return False, False
        return True, current is not None and current == known_head()
