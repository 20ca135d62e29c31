"""The few row operations every repository repeats.

Each runs in its own short transaction, unless a unit of work is open in this thread
(`SqlTransactions.atomic`): then it joins that transaction and only flushes, so a state
change and the messages it causes commit together.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, func
from sqlalchemy import insert as sa_insert
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.errors import NotFound, StaleWrite
from bot.ports.records import Page

R = TypeVar("R", bound=SQLModel)
T = TypeVar("T")

class _Unit:
    """An open unit of work: its engine, its connection (in a transaction) and, once a
    repository needs the ORM, a session on that connection.

    Most request paths use core statements only: no session is built for them.
    """

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self.engine = engine
        self.conn = conn
        self.session: Session | None = None
        self.after_commit: list[Callable[[], None]] = []

    def orm(self) -> Session:
        """The session of this unit of work, joined to its transaction."""
        if self.session is None:
            self.session = Session(bind=self.conn, expire_on_commit=False,
                                   join_transaction_mode="rollback_only")
        return self.session

    def flush(self) -> None:
        """Write pending ORM changes, so core statements see them in order."""
        if self.session is not None:
            self.session.flush()


# The open unit of work of this thread (or task).
_ambient: ContextVar[_Unit | None] = ContextVar("oscbot_unit", default=None)


def _open(engine: Engine) -> _Unit | None:
    ambient = _ambient.get()
    return ambient if ambient is not None and ambient.engine is engine else None


@contextmanager
def unit(engine: Engine) -> Iterator[Session]:
    """A session: the open unit of work's (flushed at the end), or a new one committed."""
    ambient = _open(engine)
    if ambient is not None:
        session = ambient.orm()
        yield session
        session.flush()
        return
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.commit()


@contextmanager
def connection(engine: Engine) -> Iterator[Connection]:
    """A plain connection for core statements: the open unit of work's (its pending ORM
    changes flushed first, so statements see them in order), or a short transaction.

    Cheaper than `unit` on request paths: no ORM session is built for a lone statement.
    """
    ambient = _open(engine)
    if ambient is not None:
        ambient.flush()
        yield ambient.conn
        return
    with engine.begin() as conn:
        yield conn


# One lock per SQLite engine for units of work. SQLite has one writer; a writer that
# finds the database locked sleeps in SQLite's busy handler (1, 2, 5 ... 100 ms steps)
# and the lock sits idle while it sleeps. Queueing on a lock in this process instead
# hands the write lock over at once. (One process per SQLite file: `single_writer`.)
_writers: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_writers_guard = threading.Lock()


def _writer_lock(engine: Engine) -> threading.Lock:
    with _writers_guard:
        lock = _writers.get(engine)
        if lock is None:
            lock = _writers[engine] = threading.Lock()
        return lock


@contextmanager
def atomic(engine: Engine) -> Iterator[None]:
    """Run the block as one transaction; nested blocks join it."""
    if _open(engine) is not None:
        yield
        return
    if engine.dialect.name != "sqlite":
        with _unit_of_work(engine):
            yield
        return
    with _writer_lock(engine), _unit_of_work(engine):
        yield


@contextmanager
def _unit_of_work(engine: Engine) -> Iterator[None]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # Take the write lock up front (waiting for it), so a transaction that reads
            # before it writes cannot fail half-way because another writer committed.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
        work = _Unit(engine, conn)
        token = _ambient.set(work)
        try:
            yield
            work.flush()
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            _ambient.reset(token)
            if work.session is not None:
                work.session.close()
    for callback in work.after_commit:
        callback()


def after_commit(engine: Engine, callback: Callable[[], None]) -> None:
    """Run `callback` once what was written so far is committed: when the open unit of
    work commits (never if it rolls back), or at once when none is open (each statement
    outside one commits by itself)."""
    ambient = _open(engine)
    if ambient is None:
        callback()
        return
    ambient.after_commit.append(callback)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A plain connection in a write transaction, for core statements that must commit
    together: the open unit of work's, or one of its own (on SQLite taking the write lock
    first, as every unit of work does), without building an ORM session."""
    with atomic(engine), connection(engine) as conn:
        yield conn


def forget(engine: Engine, model: type[SQLModel], row_ids: Sequence[Any]) -> None:
    """Expire the open unit of work's copies of rows a core statement just changed.

    A core UPDATE bypasses the session: a row the unit of work loaded before would be
    handed back unchanged by its next read (the identity map wins over fresh columns).
    Expired, it is read again from the database.
    """
    ambient = _open(engine)
    if ambient is None or ambient.session is None:
        return
    session = ambient.session
    for row_id in row_ids:
        held = session.identity_map.get(Session.identity_key(model, row_id))
        if held is not None:
            session.expire(held)


@functools.cache
def _insert_statement(model: type[SQLModel], dialect: str, *, unique: bool) -> Any:
    """INSERT … RETURNING id for a table (ON CONFLICT DO NOTHING when `unique`), built
    once: the values come as parameters."""
    table: Any = model.__table__  # type: ignore[attr-defined]
    if not unique:
        return sa_insert(table).returning(table.c.id)
    dialect_insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    return dialect_insert(table).on_conflict_do_nothing().returning(table.c.id)


def _values(row: SQLModel) -> dict[str, Any]:
    """The row's column values, without an id the database is to assign."""
    table: Any = row.__table__  # type: ignore[attr-defined]
    values = {column.key: getattr(row, column.key) for column in table.columns}
    if values.get("id") is None:
        values.pop("id", None)
    return values


def insert_values(engine: Engine, model: type[SQLModel], values: dict[str, Any], *,
                  unique: bool = False) -> int | None:
    """Insert one row of `model` from column values; its new id, or None when `unique`
    and a unique key already exists.

    A core INSERT … RETURNING id: nothing else is computed by the database, so there is
    no re-read, and no ORM instance or unit of work is built for one row.
    """
    with connection(engine) as conn:
        new_id: int | None = conn.execute(
            _insert_statement(model, engine.dialect.name, unique=unique),
            values).scalar_one_or_none()
    return new_id


def insert(engine: Engine, row: R, to_domain: Callable[[R], T]) -> T:
    """Insert a row and return it as a domain record (with its id)."""
    row.id = insert_values(engine, type(row), _values(row))
    return to_domain(row)


def insert_unique(engine: Engine, row: R, to_domain: Callable[[R], T],
                  find: Callable[[], T | None]) -> tuple[T, bool]:
    """Insert unless a unique key exists: (record, created). Racing inserts return the winner.

    `INSERT … ON CONFLICT DO NOTHING`: a duplicate raises nothing, so inside a unit of
    work no savepoint is needed to keep the rest of the transaction intact.
    """
    new_id = insert_values(engine, type(row), _values(row), unique=True)
    if new_id is None:
        winner = find()
        if winner is None:
            # A conflict on some other unique key than the one `find` looks up.
            raise IntegrityError("INSERT", None, Exception(
                f"{type(row).__name__}: a unique key other than the looked-up one exists"))
        return winner, False
    row.id = new_id
    return to_domain(row), True


def update(engine: Engine, model: type[R], row_id: Any, values: dict[str, Any],
           to_domain: Callable[[R], T], *, what: str) -> T:
    """Update one row by primary key; NotFound when it does not exist."""
    with unit(engine) as session:
        row = session.get(model, row_id)
        if row is None:
            raise NotFound(f"no {what} with id {row_id}")
        row.sqlmodel_update(values)
        session.flush()
        return to_domain(row)


def update_versioned(engine: Engine, model: type[R], row_id: Any, version: int,
                     values: dict[str, Any], to_domain: Callable[[R], T], *, what: str) -> T:
    """Compare-and-set: update the row only if its version is still `version`, bumping it.

    StaleWrite when someone changed it in between (another replica won the race).
    """
    table: Any = model
    with unit(engine) as session:
        result = session.execute(
            sa_update(model).where(table.id == row_id, table.version == version)
            .values(**values, version=version + 1))
        row = session.get(model, row_id, populate_existing=True)
        if row is None:
            raise NotFound(f"no {what} with id {row_id}")
        if getattr(result, "rowcount", 1) == 0:
            raise StaleWrite(f"{what} {row_id} changed since it was read")
        return to_domain(row)


def fetch(engine: Engine, model: type[R], row_id: Any, to_domain: Callable[[R], T], *,
          what: str) -> T:
    """One row by primary key as a domain record; NotFound when missing."""
    with unit(engine) as session:
        row = session.get(model, row_id)
        if row is None:
            raise NotFound(f"no {what} with id {row_id}")
        return to_domain(row)


def select_all(engine: Engine, query: SelectOfScalar[R], to_domain: Callable[[R], T]) -> list[T]:
    """Every row a query returns, as domain records."""
    with unit(engine) as session:
        return [to_domain(row) for row in session.exec(query)]


def select_one(engine: Engine, query: SelectOfScalar[R],
               to_domain: Callable[[R], T]) -> T | None:
    """The first row a query returns, or None."""
    with unit(engine) as session:
        row = session.exec(query).first()
        return to_domain(row) if row is not None else None


# Bound parameters per IN list: well under SQLite's and PostgreSQL's limits.
IN_BATCH = 500


def read_all(engine: Engine, query: Any, to_domain: Callable[[Any], T],
             params: dict[str, Any]) -> list[T]:
    """Every row of a prebuilt statement with bound `params`, read as plain rows (no ORM
    instances) in the open unit of work or a short transaction; for request paths.
    `to_domain` gets rows with column attributes."""
    with connection(engine) as conn:
        return [to_domain(row) for row in conn.execute(query, params)]


def select_page(engine: Engine, model: type[R], where: Sequence[Any],
                to_domain: Callable[[R], T], *, order: Sequence[Any], limit: int,
                newest: bool = False) -> Page[T]:
    """The first `limit` rows of `model` matching every `where` clause in `order` (the
    last ones when `newest`, still shown in `order`) and how many match.

    Two statements: the page walks an index and stops at `limit`; the count reads only
    index entries. (A `count(*) OVER ()` in the same statement would make the database
    fetch every matching row.)
    """
    ordered = [column.desc() for column in order] if newest else list(order)
    with unit(engine) as session:
        items = [to_domain(row) for row in session.exec(
            select(model).where(*where).order_by(*ordered).limit(limit))]
        total = session.exec(select(func.count()).select_from(model).where(*where)).one()
    if newest:
        items.reverse()
    return Page(items=tuple(items), total=int(total))
