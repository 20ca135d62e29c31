"""Migrations: the migrated schema matches the models; SQLite is WAL; the sweep uses its index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import SQLModel

import storage.tables  # noqa: F401
from bot.config.model import AppConfig
from storage.engine import engine_from_url, normalize_url
from storage.migrate import MIGRATIONS, current_revision, known_head, upgrade
from storage.people import sync_people

# The single head of the chain: every migration added later keeps these tests valid.
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()



def _diff(url: str) -> list[object]:
    engine = engine_from_url(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def test_sqlite_schema_matches_models_and_upgrade_is_repeatable(sqlite_url: str) -> None:
    assert _diff(sqlite_url) == []
    upgrade(sqlite_url)
    assert current_revision(sqlite_url) == HEAD


def test_a_database_at_the_first_release_upgrades_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'released.db'}"
    upgrade(url, revision="0001")
    assert current_revision(url) == "0001"
    upgrade(url)
    assert current_revision(url) == HEAD
    assert _diff(url) == []


def test_postgres_schema_matches_models(migrated_postgres: str) -> None:
    assert _diff(migrated_postgres) == []
    assert current_revision(migrated_postgres) == HEAD


def test_sqlite_uses_wal_and_foreign_keys(sqlite_url: str) -> None:
    engine = engine_from_url(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_overdue_sweep_uses_the_status_received_index(sqlite_url: str) -> None:
    engine = engine_from_url(sqlite_url)
    with engine.connect() as connection:
        plan = connection.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM leads WHERE status = 'new' "
            "AND received_at <= '2026-11-30' ORDER BY received_at, id LIMIT 500")).all()
    engine.dispose()
    assert any("ix_leads_status_received" in str(row) for row in plan), plan


def test_database_urls_are_normalised() -> None:
    assert normalize_url(None) == "sqlite:///oscbot.db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_people_sync_is_idempotent(sqlite_url: str, config: AppConfig) -> None:
    engine = engine_from_url(sqlite_url)
    assert sync_people(engine, config) == len(config.people)
    assert sync_people(engine, config) == 0
    engine.dispose()


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert known_head() == HEAD


def test_restarting_on_a_current_database_does_not_load_alembic(sqlite_url: str) -> None:
    # A fresh interpreter: this one has Alembic loaded by the tests already.
    probe = ("import sys; from storage.migrate import upgrade; upgrade(sys.argv[1]); "
             "print('alembic' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe, sqlite_url], capture_output=True,
                            text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "False"
    assert current_revision(sqlite_url) == HEAD


def test_a_database_behind_the_head_is_still_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    upgrade(url, revision="0005_delivery")
    upgrade(url)
    assert current_revision(url) == HEAD
