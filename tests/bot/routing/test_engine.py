"""The routing journal: idempotent, resumable, retried, conflict-aware."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import AppConfig, PersonConfig
from bot.errors import RoutingError
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.fakes.routing import InMemoryRoutes
from bot.model import (
    AbsenceKind,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
    RoutingState,
)
from bot.ports.repositories import Repositories
from bot.ports.routing import SwitchStatus
from bot.routing.engine import RoutingEngine
from routing.builtin import BuiltinRouting
from routing.manual import ManualRouting

START = datetime(2026, 12, 1, 6, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying between two journal writes."""


class FlakyRouting(BuiltinRouting):
    """The builtin adapter, failing its first `failures` switches with a transient error."""

    def __init__(self, *, channel: str, routes: InMemoryRoutes, failures: int,
                 transient: bool = True) -> None:
        super().__init__(channel=channel, routes=routes)
        self.failures = failures
        self.transient = transient
        self.switch_calls = 0

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        self.switch_calls += 1
        if self.failures:
            self.failures -= 1
            raise RoutingError("HTTP 503 from the vendor", transient=self.transient,
                               manual_step="Forward calls by hand")
        return super().switch(osc=osc, backup=backup, mode=mode)


def coverage(repos: Repositories) -> Coverage:
    return repos.coverages.add(Coverage(
        id=None, osc_email="maria@rh.example", start=START, end=START + timedelta(days=4),
        kind=AbsenceKind.VACATION, mode=CoverageMode.SHORT_TERM, origin=CoverageOrigin.MANUAL,
        status=CoverageStatus.ACTIVE, backup_email="jordan@rh.example"))


def engine_for(repos: Repositories, adapters: dict[str, object], clock: FixedClock,
               on_step: object = None) -> RoutingEngine:
    return RoutingEngine(adapters=adapters, switches=repos.switches,  # type: ignore[arg-type]
                         audit=repos.audit, clock=clock, on_step=on_step)  # type: ignore[arg-type]


@pytest.fixture
def people(config: AppConfig) -> tuple[PersonConfig, PersonConfig]:
    return config.person("maria@rh.example"), config.person("jordan@rh.example")


def test_switch_and_revert_round_trip_with_audit(
        people: tuple[PersonConfig, PersonConfig], clock: FixedClock) -> None:
    repos = in_memory_repositories()
    osc, backup = people
    routes = repos.routes
    engine = engine_for(repos, {"leads": BuiltinRouting(channel="leads", routes=routes)}, clock)
    cov = coverage(repos)
    [switched] = engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    assert switched.status is SwitchStatus.APPLIED
    assert switched.before == {"channel": "leads", "target": osc.email, "details": {}}
    assert routes.get(osc_email=osc.email, channel="leads") == backup.email
    again = engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    assert again == [switched]
    [reverted] = engine.revert_all(coverage=cov, osc=osc, actor="t", reason="back")
    assert reverted.status is SwitchStatus.REVERTED
    assert routes.get(osc_email=osc.email, channel="leads") is None
    actions = [e.action for e in repos.audit.list()]
    assert actions == ["routing.pending", "routing.applied", "routing.reverting",
                       "routing.reverted"]
    assert engine.revert_all(coverage=cov, osc=osc, actor="t", reason="back") == [reverted]


def test_transient_failure_is_retried_on_the_next_pass(
        people: tuple[PersonConfig, PersonConfig], clock: FixedClock) -> None:
    repos = in_memory_repositories()
    osc, backup = people
    flaky = FlakyRouting(channel="calls", routes=repos.routes, failures=2)  # type: ignore[arg-type]
    engine = engine_for(repos, {"calls": flaky}, clock)
    cov = coverage(repos)
    first = engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")[0]
    assert first.status is SwitchStatus.FAILED and first.attempts == 1
    assert "503" in first.last_error and "by hand: Forward calls by hand" in first.last_error
    assert not engine.is_complete(cov.id or 0)
    engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    third = engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")[0]
    assert third.status is SwitchStatus.APPLIED and flaky.switch_calls == 3
    assert engine.is_complete(cov.id or 0)


def test_permanent_failure_stops_retrying(
        people: tuple[PersonConfig, PersonConfig], clock: FixedClock) -> None:
    repos = in_memory_repositories()
    osc, backup = people
    broken = FlakyRouting(channel="calls", routes=repos.routes,  # type: ignore[arg-type]
                          failures=99, transient=False)
    engine = engine_for(repos, {"calls": broken}, clock)
    cov = coverage(repos)
    engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    assert broken.switch_calls == 1


def test_crash_between_channels_resumes_to_fully_switched(
        people: tuple[PersonConfig, PersonConfig], clock: FixedClock) -> None:
    repos = in_memory_repositories()
    osc, backup = people
    adapters = {c: BuiltinRouting(channel=c, routes=repos.routes) for c in ("leads", "calls")}
    steps: list[str] = []

    def die_on_second_channel(step: str) -> None:
        steps.append(step)
        if step == "switch calls":
            raise Crash

    cov = coverage(repos)
    with pytest.raises(Crash):
        engine_for(repos, adapters, clock, die_on_second_channel).switch_all(  # type: ignore[arg-type]
            coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    calls = repos.switches.get(coverage_id=cov.id or 0, channel="calls")
    assert calls is not None and calls.status is SwitchStatus.PENDING
    restarted = engine_for(repos, adapters, clock)  # type: ignore[arg-type]
    results = restarted.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    assert [s.status for s in results] == [SwitchStatus.APPLIED, SwitchStatus.APPLIED]
    assert results[1].before == {"channel": "calls", "target": osc.email, "details": {}}


def test_revert_after_a_manual_change_reports_a_conflict(
        people: tuple[PersonConfig, PersonConfig], clock: FixedClock) -> None:
    repos = in_memory_repositories()
    osc, backup = people
    engine = engine_for(repos, {"leads": BuiltinRouting(channel="leads", routes=repos.routes)},
                        clock)
    cov = coverage(repos)
    engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    repos.routes.set(osc_email=osc.email, channel="leads", target="sam@rh.example")
    [result] = engine.revert_all(coverage=cov, osc=osc, actor="t", reason="back")
    assert result.status is SwitchStatus.CONFLICT
    assert "sam@rh.example" in result.last_error and "left as is" in result.last_error
    assert repos.routes.get(osc_email=osc.email, channel="leads") == "sam@rh.example"


def test_manual_channel_waits_for_a_confirmed_step(
        people: tuple[PersonConfig, PersonConfig], clock: FixedClock) -> None:
    repos = in_memory_repositories()
    osc, backup = people
    engine = engine_for(repos, {"calls": ManualRouting(channel="calls")}, clock)
    cov = coverage(repos)
    [step] = engine.switch_all(coverage=cov, osc=osc, backup=backup, actor="t", reason="r")
    assert step.status is SwitchStatus.MANUAL
    assert step.last_error == ("Forward Maria's tracking numbers (+15125550101) to Jordan "
                               "(+15125550142)")
    assert engine.is_complete(cov.id or 0)
    confirmed = engine.confirm_manual(coverage_id=cov.id or 0, channel="calls", actor="jordan")
    assert confirmed.status is SwitchStatus.APPLIED
    [revert] = engine.revert_all(coverage=cov, osc=osc, actor="t", reason="back")
    assert revert.status is SwitchStatus.REVERTING and "back to Maria" in revert.last_error
    done = engine.confirm_manual(coverage_id=cov.id or 0, channel="calls", actor="maria")
    assert done.status is SwitchStatus.REVERTED
    assert dataclasses.asdict(done)["actor"] == "maria"
