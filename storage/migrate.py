"""`oscbot db upgrade`: Alembic migrations, located next to this module.

Alembic is imported only when there is something to migrate: a database already at the
newest revision (every restart of `oscbot run`) is recognised by one query, and Alembic
is a sixth of the server's start-up imports.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import engine_from_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_REVISION = re.compile(r'^revision\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)
_DOWN = re.compile(r'^down_revision\s*=\s*(?:["\']([^"\']+)["\']|None)', re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config built in code, independent of the working directory."""
    from alembic.config import Config

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
        if revision == "head" and _at(engine, known_head()):
            return
        from alembic import command

        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@functools.cache
def known_head() -> str | None:
    """The newest revision this release knows, read from the migration files (the one
    revision no other names as its predecessor); None unless there is exactly one."""
    revisions: set[str] = set()
    predecessors: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return None  # not a file this reader understands: let Alembic decide
        revisions.add(revision.group(1))
        if down.group(1):
            predecessors.add(down.group(1))
    heads = revisions - predecessors
    return heads.pop() if len(heads) == 1 else None


def _at(engine: Engine, head: str | None) -> bool:
    """True when the database's one recorded revision is `head`."""
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False  # no version table yet: a new database
    return [row[0] for row in versions] == [head]


def current_revision(url: str | None) -> str | None:
    """The revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    engine = engine_from_url(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
