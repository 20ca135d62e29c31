"""One `oscbot run` per SQLite file: a second one would double every job and message."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from bot.errors import OscbotError
from storage.engine import normalize_url


class AlreadyRunning(OscbotError):
    """Another process runs oscbot on the same SQLite database."""


def sqlite_path(url: str | None) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or (
            parsed.database == ":memory:"):
        return None
    return Path(parsed.database).resolve()


def hold_sqlite(url: str | None) -> IO[str] | None:
    """Lock `<database>.run.lock` for the life of this process (the OS drops it on exit,
    even after kill -9); AlreadyRunning when another process holds it."""
    path = sqlite_path(url)
    if path is None:
        return None
    lock_path = path.with_name(path.name + ".run.lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 (held until the process ends)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyRunning(
            f"{path.name} is already used by oscbot run (pid {holder}). SQLite allows one "
            "running oscbot; stop the other one, or use PostgreSQL (DATABASE_URL) to run "
            "several replicas.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
