"""`oscbot db upgrade`: Alembic migrations, located next to this module."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from storage.engine import engine_from_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config built in code, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


# Any constant both replicas agree on: the advisory lock that serialises migrations.
MIGRATION_LOCK = 0x05C_B07


def upgrade(url: str | None, *, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`.

    On PostgreSQL the migration holds a transaction-scoped advisory lock: of N replicas
    starting together one migrates, the others wait for it and then find nothing to do.
    """
    engine = engine_from_url(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision this release knows."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(url: str | None) -> str | None:
    """The revision the database is at (None before the first migration)."""
    engine = engine_from_url(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
