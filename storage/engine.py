"""The database engine from DATABASE_URL: SQLite (default file, WAL) or PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

DEFAULT_URL = "sqlite:///oscbot.db"


def normalize_url(url: str | None) -> str:
    """DATABASE_URL as SQLAlchemy wants it: psycopg 3 for PostgreSQL, a file for SQLite."""
    if not url:
        return DEFAULT_URL
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def engine_from_url(url: str | None) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    SQL parameters are hidden from every error and log line: they are lead names,
    emails, phones, messages and tokens.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL sync survives application crashes; only an OS crash can
            # lose the last commits, and it is several times faster per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # The driver's own transaction handling is off: SQLAlchemy emits BEGIN itself
            # (below), which makes savepoints and transactional DDL behave.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            immediate = connection.get_execution_options().get("oscbot_immediate")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)
