"""The brief, the return list, the App Home, the monthly report and the reminder pass
read a fixed number of SQL statements, whether the OSC has 10 leads or 10,000.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bot.context import AppContext
from bot.coverage.briefs import handoff_brief, return_list
from handlers.slack.events import app_home
from tests.storage.history import BACKUP, MANAGER, OSC, counting, stored_history

SIZES = (10, 10_000)


def _cases(ctx: AppContext, coverage_id: int) -> dict[str, Callable[[], object]]:
    coverage = ctx.coverage.get(coverage_id)
    zone = ctx.config.team.timezone
    return {
        "brief": lambda: handoff_brief(ctx.coverage.brief_for(coverage), config=ctx.config,
                                       zone=zone),
        "return list": lambda: return_list(ctx.coverage.return_facts(coverage),
                                           config=ctx.config, zone=zone),
        "App Home (OSC)": lambda: app_home(ctx, OSC),
        "App Home (backup)": lambda: app_home(ctx, BACKUP),
        "App Home (manager)": lambda: app_home(ctx, MANAGER),
        "monthly report": lambda: ctx.reports.monthly(date(2026, 11, 1)),
        "reminders": ctx.leads.remind,
    }


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, list[str]]]:
    """Statements per case, for each history size."""
    found: dict[int, dict[str, list[str]]] = {}
    for size in SIZES:
        engine, ctx, coverage_id = stored_history(
            f"sqlite:///{tmp_path_factory.mktemp(f'h{size}') / 'oscbot.db'}", leads=size)
        found[size] = {}
        for name, case in _cases(ctx, coverage_id).items():
            case()  # the first run may queue messages; count a steady pass
            with counting(engine) as statements:
                case()
            found[size][name] = statements
        engine.dispose()
    return found


@pytest.mark.parametrize("case", ["brief", "return list", "App Home (OSC)", "App Home (backup)",
                                  "App Home (manager)", "monthly report", "reminders"])
def test_statement_count_does_not_grow_with_the_history(
        counts: dict[int, dict[str, list[str]]], case: str) -> None:
    small, large = (counts[size][case] for size in SIZES)
    assert len(large) == len(small), (
        f"{case}: {len(small)} statements at {SIZES[0]} leads, {len(large)} at {SIZES[1]}")


@pytest.mark.parametrize("case, most", [("brief", 11), ("return list", 11),
                                        ("App Home (manager)", 5)])
def test_each_screen_is_a_handful_of_statements(
        counts: dict[int, dict[str, list[str]]], case: str, most: int) -> None:
    assert 0 < len(counts[SIZES[1]][case]) <= most, counts[SIZES[1]][case]


def test_the_brief_shows_recent_rows_and_counts_the_rest(tmp_path: Path) -> None:
    engine, ctx, coverage_id = stored_history(f"sqlite:///{tmp_path / 'oscbot.db'}",
                                              leads=1_000)
    facts = ctx.coverage.brief_for(ctx.coverage.get(coverage_id))
    engine.dispose()
    assert len(facts.uncontacted) == 20 and facts.uncontacted_more == 100 - 20
    assert [lead.received_at for lead in facts.uncontacted] == sorted(
        lead.received_at for lead in facts.uncontacted)
    assert facts.uncontacted[-1].name == "Lead 990"  # the newest new lead
    message = handoff_brief(facts, config=ctx.config, zone="America/Chicago")
    assert "… and 80 more" in message.to_dict().__repr__()
