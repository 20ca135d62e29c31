"""Backends for the repository contract: in-memory fakes, SQLite and PostgreSQL.

PostgreSQL runs at OSCBOT_TEST_POSTGRES_URL (default the local server's `test`
database, whose server gets a fresh database per session). Without a server the
PostgreSQL cases are skipped, except in CI, where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from bot.fakes.repositories import in_memory_repositories
from bot.ports.repositories import Repositories
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories

POSTGRES = os.environ.get("OSCBOT_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES} (set OSCBOT_TEST_POSTGRES_URL)")
    name = f"oscbot_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> str:
    """The session database, migrated to head once."""
    upgrade(postgres_url)
    return postgres_url


def _truncate(engine: Engine) -> None:
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(text(
            "TRUNCATE coverages, routing_switches, routes, audit_log, leads, activities, "
            "tasks, appointments, outbox, calendar_sync_state, people, record_moves, "
            "outbox_channels, delivery_pauses, job_runs, inbound_events, work_items "
            "RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite file for one test."""
    url = f"sqlite:///{tmp_path / 'oscbot.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, Repositories, Engine | None]]:
    """Each backend in turn: (name, repositories, engine or None)."""
    if request.param == "memory":
        yield "memory", in_memory_repositories(), None
        return
    if request.param == "sqlite":
        engine = engine_from_url(request.getfixturevalue("sqlite_url"))
    else:
        engine = engine_from_url(request.getfixturevalue("migrated_postgres"))
        _truncate(engine)
    try:
        yield request.param, sql_repositories(engine), engine
    finally:
        engine.dispose()


@pytest.fixture
def repos(backend: tuple[str, Repositories, Engine | None]) -> Repositories:
    """The repositories of the current backend."""
    return backend[1]
