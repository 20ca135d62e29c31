"""`oscbot db upgrade`: Alembic migrations, located next to this module."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from storage.engine import engine_from_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config built in code, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(url: str | None, *, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`."""
    engine = engine_from_url(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str | None) -> str | None:
    """The revision the database is at (None before the first migration)."""
    engine = engine_from_url(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
