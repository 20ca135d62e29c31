"""The people table: everyone in app.yaml, kept in step with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from bot.config.model import AppConfig
from storage import rows
from storage.tables import (
    PersonRow,
)


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
