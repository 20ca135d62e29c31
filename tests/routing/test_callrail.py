"""CallRail against a local fake of its v3 API: swap, restore, refusals, errors."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
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
from tests.routing.fake_callrail import WRITABLE_BASIC, FakeCallRail

KEY = "cr-test-key"
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc", phone="+15125550101",
                   routing_ids={"callrail_tracker_ids": "TRK1, TRK2"})
BACKUP = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup",
                      phone="+15125550142")
BASIC = {"type": "basic", "recording_enabled": True, "destination_number": "+15125550101",
         "greeting_text": "Thanks for calling Riverside Homes"}


@pytest.fixture
def callrail() -> Iterator[FakeCallRail]:
    with FakeCallRail(api_key=KEY, account_id="ACC1") as fake:
        for tracker in ("TRK1", "TRK2"):
            fake.add_tracker(tracker, copy.deepcopy(BASIC))
        yield fake


def adapter(callrail: FakeCallRail, key: str = KEY) -> CallRailRouting:
    return CallRailRouting(api_key=key, account_id="ACC1", base_url=f"{callrail.url}/v3")


def test_switch_and_restore_through_the_engine(callrail: FakeCallRail) -> None:
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
    assert all(callrail.flow(t) == {**BASIC, "destination_number": "+15125550142"}
               for t in callrail.trackers)
    puts = [r for r in callrail.writes() if r.method == "PUT"]
    assert [r.path for r in puts] == ["/v3/a/ACC1/trackers/TRK1.json",
                                      "/v3/a/ACC1/trackers/TRK2.json"]
    assert puts[0].body == {"call_flow": {**BASIC, "destination_number": "+15125550142"}}
    assert puts[0].headers["authorization"] == f'Token token="{KEY}"'
    again = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="r")
    assert again == [switched] and len(callrail.writes()) == 2
    [reverted] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert reverted.status is SwitchStatus.REVERTED
    assert all(callrail.flow(t) == BASIC for t in callrail.trackers)
    assert all(set(r.body["call_flow"]) <= set(WRITABLE_BASIC) for r in callrail.writes())


def test_revert_after_someone_changed_a_tracker_reports_a_conflict(
        callrail: FakeCallRail) -> None:
    repos = in_memory_repositories()
    engine = RoutingEngine(adapters={"calls": adapter(callrail)}, switches=repos.switches,
                           audit=repos.audit, clock=FixedClock(datetime(2026, 12, 1, tzinfo=UTC)))
    coverage = repos.coverages.add(Coverage(
        None, OSC.email, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC),
        AbsenceKind.VACATION, CoverageMode.SHORT_TERM, CoverageOrigin.MANUAL,
        CoverageStatus.ACTIVE, BACKUP.email))
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="r")
    callrail.trackers["TRK1"]["call_flow"]["destination_number"] = "+15125550199"  # by hand
    [result] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert result.status is SwitchStatus.CONFLICT and "left as is" in result.last_error
    assert callrail.flow("TRK1")["destination_number"] == "+15125550199"


def test_advanced_call_flows_are_refused_with_the_manual_step(callrail: FakeCallRail) -> None:
    callrail.trackers["TRK2"]["call_flow"] = {"type": "menu", "options": []}
    with pytest.raises(RoutingError, match="'menu' call flow") as refused:
        adapter(callrail).switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert "set their destination to Jordan (+15125550142)" in refused.value.manual_step
    assert "TRK2 has a 'menu' call flow" in adapter(callrail).check(osc=OSC, backup=BACKUP)[0]


def test_only_writable_call_flow_keys_are_sent_back(callrail: FakeCallRail) -> None:
    calls = adapter(callrail)
    before = calls.read(osc=OSC)
    assert "CF0001" in before.details["call_flows"]  # the snapshot keeps the flow as read
    calls.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    calls.restore(osc=OSC, snapshot=before)
    assert [r.body for r in callrail.writes()][-1] == {"call_flow": BASIC}
    assert callrail.flow("TRK1") == callrail.flow("TRK2") == BASIC
    refused = httpx.put(f"{callrail.url}/v3/a/ACC1/trackers/TRK1.json",
                        json={"call_flow": callrail.trackers["TRK1"]["call_flow"]},
                        headers={"Authorization": f'Token token="{KEY}"'})
    assert refused.status_code == 400 and "id" in refused.json()["error"]


def test_vendor_errors(callrail: FakeCallRail) -> None:
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
