"""A process killed between two channels' switches (or reverts) is finished on restart:
fully switched, one brief, a consistent journal. SQLite file shared by both processes.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.model import AbsenceKind, CoverageStatus
from bot.ports.routing import SwitchStatus
from bot.routing.engine import RoutingEngine
from handlers.wiring import build_context, routing_adapters
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.conftest import make_config

pytestmark = pytest.mark.slow

START = datetime(2026, 12, 1, 6, tzinfo=UTC)
MARIA = "maria@rh.example"
ROUTING = {"leads": {"adapter": "builtin"}, "email": {"adapter": "manual"},
           "calls": {"adapter": "builtin"}}

STEP = textwrap.dedent("""
    import os, sys
    from datetime import datetime, timedelta, UTC
    from bot.fakes.chat import RecordingChat
    from bot.fakes.clock import FixedClock
    from bot.routing.engine import RoutingEngine
    from handlers.wiring import build_context, routing_adapters
    from storage.engine import engine_from_url
    from storage.repositories import sql_repositories
    from tests.conftest import make_config

    url, when, die_at = sys.argv[1], sys.argv[2], sys.argv[3]
    config = make_config(routing={ROUTING})
    repos = sql_repositories(engine_from_url(url))

    def die(step):
        if step == die_at:
            os._exit(9)  # the process is killed here, mid-handoff

    ctx = build_context(config=config, repos=repos, clock=FixedClock(datetime.fromisoformat(when)),
                        chat=RecordingChat(), sources={{}})
    ctx.coverage.engine = RoutingEngine(adapters=routing_adapters(config, repos, clock=ctx.clock),
                                        switches=repos.switches, audit=repos.audit,
                                        clock=ctx.clock, on_step=die)
    ctx.coverage.tick()
    os._exit(0)
""").replace("{ROUTING}", repr(ROUTING))


def run_step(url: str, when: datetime, die_at: str, cwd: Path) -> int:
    script = cwd / "step.py"
    script.write_text(STEP.replace("{{}}", "{}"), encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, str(script), url, when.isoformat(), die_at],
                            cwd=root, capture_output=True, text=True, timeout=60, check=False,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert result.returncode in (0, 9), result.stderr
    return result.returncode


def test_killed_mid_switch_and_mid_revert_then_finished_on_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    upgrade(url)
    config = make_config(routing=ROUTING)
    repos = sql_repositories(engine_from_url(url))
    ctx = build_context(config=config, repos=repos, clock=FixedClock(START - timedelta(days=2)),
                        chat=RecordingChat(), sources={})
    coverage = ctx.coverage.declare(osc_email=MARIA, start=START, end=START + timedelta(days=3),
                                    kind=AbsenceKind.VACATION,
                                    actor=MARIA)
    assert coverage.id is not None

    assert run_step(url, START, "switch calls", tmp_path) == 9
    assert repos.coverages.get(coverage.id).status is CoverageStatus.ACTIVE
    journal = {s.channel: s.status for s in repos.switches.list(coverage_id=coverage.id)}
    assert journal == {"leads": SwitchStatus.APPLIED, "email": SwitchStatus.MANUAL,
                       "calls": SwitchStatus.PENDING}

    assert run_step(url, START + timedelta(minutes=1), "never", tmp_path) == 0
    journal = {s.channel: s.status for s in repos.switches.list(coverage_id=coverage.id)}
    assert journal == {"leads": SwitchStatus.APPLIED, "email": SwitchStatus.MANUAL,
                       "calls": SwitchStatus.APPLIED}
    assert repos.routes.get(osc_email=MARIA, channel="calls") == "jordan@rh.example"
    posts = [i.key for i in repos.outbox.pending(limit=100)]
    assert posts.count("brief:1") == 1 and posts.count("brief-dm:1") == 1

    back = START + timedelta(days=3)
    assert run_step(url, back, "revert calls", tmp_path) == 9
    assert repos.coverages.get(coverage.id).status is CoverageStatus.ACTIVE
    assert run_step(url, back + timedelta(minutes=1), "never", tmp_path) == 0
    assert repos.coverages.get(coverage.id).status is CoverageStatus.RETURNED
    journal = {s.channel: s.status for s in repos.switches.list(coverage_id=coverage.id)}
    assert journal["leads"] is SwitchStatus.REVERTED
    assert journal["calls"] is SwitchStatus.REVERTED
    assert repos.routes.get(osc_email=MARIA, channel="calls") is None
    assert repos.routes.get(osc_email=MARIA, channel="leads") is None
    assert repos.outbox.get("return:1") is not None


def test_killed_after_switching_but_before_the_brief_still_posts_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    upgrade(url)
    config = make_config(routing={"leads": {"adapter": "builtin"}})
    repos = sql_repositories(engine_from_url(url))
    clock = FixedClock(START)
    ctx = build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                        sources={})
    coverage = ctx.coverage.declare(osc_email=MARIA, start=START + timedelta(hours=1),
                                    end=START + timedelta(days=3),
                                    kind=AbsenceKind.VACATION, actor=MARIA)
    assert coverage.id is not None
    # The state a crash between "routing switched" and "brief queued" leaves behind.
    active = repos.coverages.save(dataclasses.replace(
        coverage, status=CoverageStatus.ACTIVE, started_at=START + timedelta(hours=1)))
    engine = RoutingEngine(adapters=routing_adapters(config, repos, clock=clock),
                           switches=repos.switches, audit=repos.audit, clock=clock)
    engine.switch_all(coverage=active, osc=config.person(MARIA),
                      backup=config.person("jordan@rh.example"), actor="t", reason="r")
    clock.set(START + timedelta(hours=1, minutes=1))
    assert ctx.coverage.tick().resumed == 1
    assert repos.outbox.get(f"brief:{coverage.id}") is not None
    assert ctx.coverage.tick().resumed == 0
