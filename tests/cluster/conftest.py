"""Cluster tests run real `oscbot run` processes on one PostgreSQL database."""

from tests.storage.conftest import postgres_url

__all__ = ["postgres_url"]
