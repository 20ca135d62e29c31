"""The unit of work over SQL: what the repositories do inside `atomic()` commits
together, on one connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from storage import rows


class SqlTransactions:
    """Transactions on SQL: repositories used inside `atomic()` share one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction for the block; nested blocks join it."""
        with rows.atomic(self._engine):
            yield
