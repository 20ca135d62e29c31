"""CallRail against a local fake of its v3 API: swap, restore, refusals, errors."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.model import (
    AbsenceKind,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
)
from bot.ports.routing import SwitchStatus
from bot.routing.engine import RoutingEngine
from routing.callrail import CallRailRouting
from tests.routing.fake_vendor import FakeVendor

KEY = "cr-test-key"
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc", phone="+15125550101",
                   routing_ids={"callrail_tracker_ids": "TRK1, TRK2"})
BACKUP = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup",
                      phone="+15125550142")
BASIC = {"type": "basic", "recording_enabled": True, "destination_number": "+15125550101",
         "greeting_text": "Thanks for calling Riverside Homes"}


@pytest.fixture
def trackers() -> dict[str, dict[str, Any]]:
    return {t: {"id": t, "name": f"Website {t}", "type": "source", "status": "active",
                "tracking_numbers": ["+15125559000"], "call_flow": copy.deepcopy(BASIC)}
            for t in ("TRK1", "TRK2")}


@pytest.fixture
def callrail(trackers: dict[str, dict[str, Any]]) -> Iterator[FakeVendor]:
    def route(method: str, path: str, query: dict[str, list[str]], body: Any
              ) -> tuple[int, Any]:
        parts = path.split("/")  # /v3/a/ACC1/trackers/TRK1.json
        if len(parts) != 6 or parts[3] != "ACC1" or parts[4] != "trackers":
            return 404, {"error": "Not found"}
        tracker = trackers.get(parts[5].removesuffix(".json"))
        if tracker is None:
            return 404, {"error": "Not found"}
        if method == "PUT":
            tracker["call_flow"] = body["call_flow"]  # CallRail replaces the whole flow
        return 200, tracker

    with FakeVendor(route, auth=f'Token token="{KEY}"') as fake:
        yield fake


def adapter(callrail: FakeVendor, key: str = KEY) -> CallRailRouting:
    return CallRailRouting(api_key=key, account_id="ACC1", base_url=f"{callrail.url}/v3")


def test_switch_and_restore_through_the_engine(callrail: FakeVendor,
                                               trackers: dict[str, dict[str, Any]]) -> None:
    repos = in_memory_repositories()
    engine = RoutingEngine(adapters={"calls": adapter(callrail)}, switches=repos.switches,
                           audit=repos.audit, clock=FixedClock(datetime(2026, 12, 1, tzinfo=UTC)))
    coverage = repos.coverages.add(Coverage(
        None, OSC.email, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC),
        AbsenceKind.VACATION, CoverageMode.SHORT_TERM, CoverageOrigin.MANUAL,
        CoverageStatus.ACTIVE, BACKUP.email))
    [switched] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t",
                                   reason="r")
    assert switched.status is SwitchStatus.APPLIED
    assert all(t["call_flow"] == {**BASIC, "destination_number": "+15125550142"}
               for t in trackers.values())
    puts = [r for r in callrail.writes() if r.method == "PUT"]
    assert [r.path for r in puts] == ["/v3/a/ACC1/trackers/TRK1.json",
                                      "/v3/a/ACC1/trackers/TRK2.json"]
    assert puts[0].body == {"call_flow": {**BASIC, "destination_number": "+15125550142"}}
    assert puts[0].headers["authorization"] == f'Token token="{KEY}"'
    again = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="r")
    assert again == [switched] and len(callrail.writes()) == 2
    [reverted] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert reverted.status is SwitchStatus.REVERTED
    assert all(t["call_flow"] == BASIC for t in trackers.values())


def test_revert_after_someone_changed_a_tracker_reports_a_conflict(
        callrail: FakeVendor, trackers: dict[str, dict[str, Any]]) -> None:
    repos = in_memory_repositories()
    engine = RoutingEngine(adapters={"calls": adapter(callrail)}, switches=repos.switches,
                           audit=repos.audit, clock=FixedClock(datetime(2026, 12, 1, tzinfo=UTC)))
    coverage = repos.coverages.add(Coverage(
        None, OSC.email, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC),
        AbsenceKind.VACATION, CoverageMode.SHORT_TERM, CoverageOrigin.MANUAL,
        CoverageStatus.ACTIVE, BACKUP.email))
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="r")
    trackers["TRK1"]["call_flow"]["destination_number"] = "+15125550199"  # changed by hand
    [result] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert result.status is SwitchStatus.CONFLICT and "left as is" in result.last_error
    assert trackers["TRK1"]["call_flow"]["destination_number"] == "+15125550199"


def test_advanced_call_flows_are_refused_with_the_manual_step(
        callrail: FakeVendor, trackers: dict[str, dict[str, Any]]) -> None:
    trackers["TRK2"]["call_flow"] = {"type": "menu", "options": []}
    with pytest.raises(RoutingError, match="'menu' call flow") as refused:
        adapter(callrail).switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert "set their destination to Jordan (+15125550142)" in refused.value.manual_step
    assert "TRK2 has a 'menu' call flow" in adapter(callrail).check(osc=OSC, backup=BACKUP)[0]


def test_vendor_errors(callrail: FakeVendor) -> None:
    calls = adapter(callrail)
    callrail.fail_next(429, {"Retry-After": "30"})
    with pytest.raises(RoutingError) as limited:
        calls.read(osc=OSC)
    assert limited.value.transient and limited.value.retry_after == 30
    callrail.fail_next(503)
    with pytest.raises(RoutingError) as down:
        calls.read(osc=OSC)
    assert down.value.transient
    with pytest.raises(RoutingError, match="credentials") as expired:
        adapter(callrail, key="expired").read(osc=OSC)
    assert not expired.value.transient
    missing = OSC.model_copy(update={"routing_ids": {"callrail_tracker_ids": "TRK404"}})
    with pytest.raises(RoutingError, match="HTTP 404"):
        calls.read(osc=missing)
    assert calls.check(osc=OSC, backup=BACKUP) == []
    assert callrail.writes() == []
