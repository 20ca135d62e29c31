"""Cluster tests run real `oscbot run` processes on PostgreSQL (required in CI)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.storage.conftest import postgres_url

__all__ = ["fresh_postgres", "postgres_url"]


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[str]:
    """An empty database of its own for one test (its replicas migrate it), dropped
    afterwards: each fault run counts only its own rows."""
    base = postgres_url.rsplit("/", 1)[0]
    name = f"oscbot_cluster_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
