"""Shared fixtures: a small team, a controlled clock, in-memory ports; and the order in
which the tests run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config.model import AppConfig
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.ports.repositories import Repositories

TEAM = {
    "team": {"name": "Riverside Homes", "timezone": "America/Chicago",
             "channel": "#online-sales", "managers": ["dana@rh.example"]},
    "people": [
        {"email": "maria@rh.example", "name": "Maria", "role": "osc",
         "communities": ["Riverside", "Oak Hill"], "phone": "+15125550101",
         "backups": ["jordan@rh.example", "sam@rh.example"]},
        {"email": "alex@rh.example", "name": "Alex", "role": "osc",
         "communities": ["Lakeview"], "backups": ["sam@rh.example", "priya@rh.example"]},
        {"email": "jordan@rh.example", "name": "Jordan", "role": "backup", "trained": True,
         "shadowed": True, "max_active_leads": 2, "phone": "+15125550142"},
        {"email": "sam@rh.example", "name": "Sam", "role": "backup", "trained": True,
         "shadowed": True, "max_active_leads": 15},
        {"email": "priya@rh.example", "name": "Priya", "role": "backup", "trained": True,
         "shadowed": False},
        {"email": "dana@rh.example", "name": "Dana", "role": "manager"},
    ],
    # Around the clock, so tests of other rules are not held back by working hours;
    # tests of working hours set their own.
    "policies": {"working_hours": "00:00-23:59",
                 "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
}


def make_config(**overrides: object) -> AppConfig:
    """The test team, with top-level sections replaced as given."""
    return AppConfig.model_validate({**TEAM, **overrides})


@pytest.fixture
def config() -> AppConfig:
    """The test team."""
    return make_config()


@pytest.fixture
def clock() -> FixedClock:
    """Monday Nov 30 2026, 14:00 UTC (8:00 in Chicago)."""
    return FixedClock(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))


@pytest.fixture
def repos() -> Repositories:
    """Fresh in-memory repositories."""
    return in_memory_repositories()


# The modules of slow tests that take longest (with --durations=0 on a 2-core machine),
# longest first. xdist hands out whole modules in this order (`--dist loadfile
# --no-loadscope-reorder`), so while one worker runs the longest, the others get through
# the rest and all finish together.
LONGEST_FIRST = (
    "tests/cluster/test_replicas.py",
    "tests/handlers/teams/test_burst_run.py",
    "tests/handlers/console/test_shell.py",
    "tests/handlers/teams/test_end_to_end.py",
    "tests/schedules/test_soak.py",
    "tests/test_packaging.py",
    "tests/routing/test_crm_end_to_end.py",
    "tests/cluster/test_single_writer.py",
    "tests/storage/test_crash_recovery.py",
    "tests/handlers/http/test_run_hardening.py",
)


def _rank(item: pytest.Item) -> int:
    """Where a test goes in the run: the longest first, then other slow ones, then the rest."""
    if item.get_closest_marker("slow") is None:
        return len(LONGEST_FIRST) + 1
    path = item.nodeid.split("::", 1)[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, longest first (the rest keep their order)."""
    items.sort(key=_rank)
