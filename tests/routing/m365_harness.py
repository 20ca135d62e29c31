"""The Exchange routing adapters wired into the real routing engine, plus a step that
runs in its own process and is killed after the adapter changed Exchange but before the
journal recorded it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.model import PersonConfig
from bot.fakes.clock import FixedClock
from bot.model import AbsenceKind, Coverage, CoverageMode, CoverageOrigin, CoverageStatus
from bot.ports.repositories import Repositories
from bot.ports.routing import RoutingAdapter
from bot.routing.engine import RoutingEngine

if TYPE_CHECKING:
    from tests.fakes.graph import FakeGraph

START = datetime(2026, 12, 1, 6, tzinfo=UTC)
OSC = PersonConfig(email="maria@builder.example", name="Maria", role="osc",
                   routing_ids={"m365_group": "leads-maria@builder.example"})
BACKUP = PersonConfig(email="jordan@builder.example", name="Jordan", role="backup")
SENDERS = ["leads@builder.example", "noreply@zillow.example"]


def engine_for(adapter: RoutingAdapter, repos: Repositories) -> RoutingEngine:
    """An engine whose only channel is `email`."""
    return RoutingEngine(adapters={"email": adapter}, switches=repos.switches,
                         audit=repos.audit, clock=FixedClock(START))


def active_coverage(repos: Repositories) -> Coverage:
    """Maria away for two weeks, Jordan covering."""
    return repos.coverages.add(Coverage(
        id=None, osc_email=OSC.email, start=START, end=START + timedelta(days=14),
        kind=AbsenceKind.VACATION, mode=CoverageMode.SHORT_TERM, origin=CoverageOrigin.MANUAL,
        status=CoverageStatus.ACTIVE, backup_email=BACKUP.email))


STEP = textwrap.dedent("""
    import os, sys
    from bot.ports.routing import SwitchStatus
    from bot.config.settings import Settings
    from m365.graph import GraphClient, GraphConfig
    from storage.engine import engine_from_url
    from storage.repositories import sql_repositories
    from tests.routing.m365_harness import BACKUP, OSC, SENDERS, engine_for
    import dataclasses

    url, adapter_name, action, die_on, ca_file = sys.argv[1:6]
    env = dict(zip(sys.argv[6::2], sys.argv[7::2]))
    config = GraphConfig.from_settings(Settings.from_env(env))
    client = GraphClient(config, verify=ca_file)
    if adapter_name == "outlook_rule":
        from routing.outlook_rule import OutlookRuleRouting
        adapter = OutlookRuleRouting(client=client, lead_senders=SENDERS)
    else:
        from routing.m365_group import M365GroupRouting
        adapter = M365GroupRouting(client=client)
    repos = sql_repositories(engine_from_url(url))

    class DieOnRecord:
        # Killed after Exchange changed, before the journal says so.
        def __init__(self, inner):
            self.inner = inner
        def __getattr__(self, name):
            return getattr(self.inner, name)
        def save(self, switch):
            if switch.status.value == die_on:
                os._exit(9)
            return self.inner.save(switch)

    repos = dataclasses.replace(repos, switches=DieOnRecord(repos.switches))
    engine = engine_for(adapter, repos)
    coverage = repos.coverages.get(1)
    if action == "switch":
        engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="away")
    else:
        engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    os._exit(0)
""")


def run_step(graph: FakeGraph, url: str, adapter: str, action: str, die_on: str,
             cwd: Path) -> int:
    """Run one switch or revert in a new process; 9 when it was killed."""
    script = cwd / "m365_step.py"
    script.write_text(STEP, encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    pairs = [item for key_value in graph.env().items() for item in key_value]
    result = subprocess.run(
        [sys.executable, str(script), url, adapter, action, die_on, graph.ca_file, *pairs],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert result.returncode in (0, 9), result.stderr
    return result.returncode


def killed_and_resumed(graph: FakeGraph, adapter: str, tmp_path: Path) -> None:
    """Switch and revert, each killed once between the Exchange change and its journal
    record, then resumed: one write each way, and the journal ends reverted."""
    from bot.ports.routing import SwitchStatus
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories

    url = f"sqlite:///{tmp_path / 'journal.db'}"
    upgrade(url)
    repos = sql_repositories(engine_from_url(url))
    coverage = active_coverage(repos)

    def journal() -> SwitchStatus | None:
        found = repos.switches.get(coverage_id=coverage.id or 0, channel="email")
        return found.status if found else None

    assert run_step(graph, url, adapter, "switch", "applied", tmp_path) == 9
    assert [r.method for r in graph.writes()] == ["POST"]
    assert journal() is SwitchStatus.PENDING
    assert run_step(graph, url, adapter, "switch", "never", tmp_path) == 0
    assert [r.method for r in graph.writes()] == ["POST"]
    assert journal() is SwitchStatus.APPLIED
    assert run_step(graph, url, adapter, "revert", "reverted", tmp_path) == 9
    assert journal() is SwitchStatus.REVERTING
    assert run_step(graph, url, adapter, "revert", "never", tmp_path) == 0
    assert [r.method for r in graph.writes()] == ["POST", "DELETE"]
    assert journal() is SwitchStatus.REVERTED
