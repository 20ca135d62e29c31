"""The few row operations every repository repeats, each in its own short transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.errors import NotFound
from bot.ports import Page

# Bound parameters per IN list: well under SQLite's and PostgreSQL's limits.
IN_BATCH = 500

R = TypeVar("R", bound=SQLModel)
T = TypeVar("T")


def insert(engine: Engine, row: R, to_domain: Callable[[R], T]) -> T:
    """Insert a row and return it as a domain record (with its id)."""
    # A plain INSERT, not an ORM flush: the unit of work costs more than the statement
    # on the intake path, and nothing but the id is computed by the database: no re-read.
    table: Any = type(row).__table__  # type: ignore[attr-defined]
    values = {column.name: getattr(row, column.name) for column in table.columns}
    generated = [column.name for column in table.primary_key.columns
                 if values.get(column.name) is None]
    for name in generated:
        del values[name]
    with engine.begin() as connection:
        keys = connection.execute(table.insert(), values).inserted_primary_key
    for name, key in zip(generated, keys or (), strict=False):
        setattr(row, name, key)
    return to_domain(row)


def insert_unique(engine: Engine, row: R, to_domain: Callable[[R], T],
                  find: Callable[[], T | None]) -> tuple[T, bool]:
    """Insert unless a unique key exists: (record, created). Racing inserts return the winner."""
    try:
        return insert(engine, row, to_domain), True
    except IntegrityError:
        winner = find()
        if winner is None:
            raise
        return winner, False


def update(engine: Engine, model: type[R], row_id: Any, values: dict[str, Any],
           to_domain: Callable[[R], T], *, what: str) -> T:
    """Update one row by primary key; NotFound when it does not exist."""
    # One UPDATE … RETURNING instead of an ORM load, change and flush: half the work.
    table: Any = model.__table__  # type: ignore[attr-defined]
    key = next(iter(table.primary_key.columns))
    statement = table.update().where(key == row_id).values(values).returning(*table.columns)
    with engine.begin() as connection:
        found: Any = connection.execute(statement).first()
    if found is None:
        raise NotFound(f"no {what} with id {row_id}")
    return to_domain(found)


def fetch(engine: Engine, model: type[R], row_id: Any, to_domain: Callable[[R], T], *,
          what: str) -> T:
    """One row by primary key as a domain record; NotFound when missing."""
    with Session(engine) as session:
        row = session.get(model, row_id)
        if row is None:
            raise NotFound(f"no {what} with id {row_id}")
        return to_domain(row)


def select_all(engine: Engine, query: SelectOfScalar[R], to_domain: Callable[[R], T]) -> list[T]:
    """Every row a query returns, as domain records."""
    # Read on a plain connection: rows carry the columns as attributes, which is all the
    # converters use, without an ORM session's identity map and instance state.
    return read_all(engine, query, to_domain, {})


def read_all(engine: Engine, query: Any, to_domain: Callable[[Any], T],
             params: dict[str, Any]) -> list[T]:
    """Every row of a prebuilt statement with bound `params`, on a plain connection: no
    ORM session, for reads on request paths. `to_domain` gets rows with column attributes."""
    with engine.connect() as connection:
        return [to_domain(row) for row in connection.execute(query, params)]


def select_one(engine: Engine, query: SelectOfScalar[R],
               to_domain: Callable[[R], T]) -> T | None:
    """The first row a query returns, or None."""
    with engine.connect() as connection:
        row: Any = connection.execute(query).first()
        return to_domain(row) if row is not None else None


def select_page(engine: Engine, model: type[R], where: Sequence[Any],
                to_domain: Callable[[R], T], *, order: Sequence[Any], limit: int,
                newest: bool = False) -> Page[T]:
    """The first `limit` rows of `model` matching every `where` clause in `order` (the
    last ones when `newest`, still shown in `order`) and how many match.

    Two statements in one read transaction: the page walks an index and stops at
    `limit`; the count reads only index entries. (A `count(*) OVER ()` in the same
    statement would make the database fetch every matching row.)
    """
    ordered = [column.desc() for column in order] if newest else list(order)
    with engine.connect() as connection:
        found: Any = connection.execute(
            select(model).where(*where).order_by(*ordered).limit(limit))
        items = [to_domain(row) for row in found]
        total = connection.execute(
            select(func.count()).select_from(model).where(*where)).scalar_one()
    if newest:
        items.reverse()
    return Page(items=tuple(items), total=int(total))
