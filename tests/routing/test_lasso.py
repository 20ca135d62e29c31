"""Lasso CRM hand-over against a local fake of its v1 API (registrants, assigned reps)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, MoveStatus, RecordKind, SwitchStatus
from routing.lasso import LassoCrm
from tests.routing.crm_harness import crm_harness
from tests.routing.fake_vendor import FakeVendor

KEY = "lasso-project-key"
START = datetime(2026, 12, 1, 14, tzinfo=UTC)
END = START + timedelta(days=90)
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc",
                   routing_ids={"lasso_user_id": "71"})
BACKUP = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup",
                      routing_ids={"lasso_user_id": "72"})
PAGE = 20  # Lasso pages registrants 20 at a time, newest first


def rep(user: str, primary: bool) -> dict[str, Any]:
    return {"userId": user, "firstName": "", "lastName": "", "isPrimary": primary}


@pytest.fixture
def registrants() -> dict[str, dict[str, Any]]:
    return {
        "9001": {"registrantId": "9001", "registrationDate": "2026-11-02T10:00:00Z",
                 "assignedSalesReps": [rep("71", True)]},
        "9002": {"registrantId": "9002", "registrationDate": "2026-12-01T09:00:00Z",
                 "assignedSalesReps": [rep("71", True)]},  # same day, before the leave began
        "9003": {"registrantId": "9003", "registrationDate": "2026-12-02T16:00:00Z",
                 "assignedSalesReps": [rep("71", True), rep("80", False)]},
        "9004": {"registrantId": "9004", "registrationDate": "2026-12-03T16:00:00Z",
                 "assignedSalesReps": [rep("80", True), rep("71", False)]},
    }


@pytest.fixture
def lasso(registrants: dict[str, dict[str, Any]]) -> Iterator[FakeVendor]:
    def route(method: str, path: str, query: dict[str, list[str]], body: Any
              ) -> tuple[int, Any]:
        if path == "/v1/registrants" and method == "GET":
            after = query.get("registeredAfter", [""])[0]
            start = int(query.get("cursor", ["0"])[0])
            newest = sorted((r for r in registrants.values()
                             if r["registrationDate"][:10] >= after),
                            key=lambda r: r["registrationDate"], reverse=True)
            page = newest[start:start + PAGE]
            links = ({"next": f"/registrants?cursor={start + PAGE}"}
                     if start + PAGE < len(newest) else {})
            return 200, {"items": page, "links": links}
        parts = path.split("/")  # /v1/registrants/9003/assigned-sales-reps
        if len(parts) == 5 and parts[4] == "assigned-sales-reps" and parts[3] in registrants:
            registrant = registrants[parts[3]]
            if method == "PUT":
                if sum(1 for r in body if r.get("isPrimary")) > 1:
                    return 400, {"errorCode": 400, "error": "Only one primary sales rep"}
                registrant["assignedSalesReps"] = [rep(r["userId"], r["isPrimary"])
                                                   for r in body]
            return 200, registrant["assignedSalesReps"]
        return 404, {"errorCode": 404, "error": "Not Found"}

    with FakeVendor(route, auth=f"Bearer {KEY}") as fake:
        yield fake


def client(fake: FakeVendor, key: str = KEY) -> LassoCrm:
    return LassoCrm(api_key=key, base_url=f"{fake.url}/v1")


def primaries(registrants: dict[str, dict[str, Any]]) -> dict[str, list[tuple[str, bool]]]:
    return {rid: [(r["userId"], r["isPrimary"]) for r in reg["assignedSalesReps"]]
            for rid, reg in registrants.items()}


def test_long_leave_swaps_the_primary_rep_and_restores_the_exact_list(
        lasso: FakeVendor, registrants: dict[str, dict[str, Any]]) -> None:
    h = crm_harness(client(lasso), osc_email=OSC.email, backup_email=BACKUP.email,
                    start=START, end=END)
    repos, engine, coverage = h.repos, h.engine, h.coverage
    before = primaries(registrants)

    [journal] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s",
                                  reason="leave")

    assert journal.status is SwitchStatus.APPLIED
    assert "Lasso's API has no tasks: give Jordan Maria's" in (journal.after or {})[
        "details"]["also_by_hand"]
    assert primaries(registrants) == {**before, "9003": [("72", True), ("80", False)]}
    [listing] = [r for r in lasso.requests if r.path == "/v1/registrants"]
    assert listing.query == {"registeredAfter": ["2026-12-01"]}
    [put] = lasso.writes()
    assert (put.method, put.path, put.body) == (
        "PUT", "/v1/registrants/9003/assigned-sales-reps",
        [{"userId": "72", "isPrimary": True}, {"userId": "80", "isPrimary": False}])
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in lasso.requests)

    [back] = engine.revert_all(coverage=coverage, osc=OSC, actor=OSC.email, reason="back")
    assert back.status is SwitchStatus.REVERTED
    assert primaries(registrants) == before
    assert [m.status for m in repos.moves.list()] == [MoveStatus.RETURNED]


def test_listing_follows_the_next_link(lasso: FakeVendor,
                                       registrants: dict[str, dict[str, Any]]) -> None:
    for n in range(45):
        registrants[f"8{n:03}"] = {"registrantId": f"8{n:03}",
                                   "registrationDate": f"2026-12-05T{n % 24:02}:00:00Z",
                                   "assignedSalesReps": [rep("71", True)]}
    found = client(lasso).new_leads(owner_id="71", since=START)
    assert len(found) == 46
    assert [r.query.get("cursor") for r in lasso.requests] == [None, ["20"], ["40"]]


def test_a_backup_already_on_the_registrant_is_not_listed_twice(lasso: FakeVendor) -> None:
    record = CrmRecord(RecordKind.LEAD, "1", json.dumps(
        [{"userId": "71", "isPrimary": True}, {"userId": "72", "isPrimary": False}]))
    assert json.loads(client(lasso).handed_owner(record, from_id="71", to_id="72")) == [
        {"userId": "72", "isPrimary": True}]


def test_the_drill_names_the_task_step_lasso_cannot_take(lasso: FakeVendor) -> None:
    h = crm_harness(client(lasso), osc_email=OSC.email, backup_email=BACKUP.email,
                    start=START, end=END)
    assert h.engine.adapters["leads"].check(osc=OSC, backup=BACKUP) == [
        "manual step: Lasso's API has no tasks: give Jordan Maria's open Lasso tasks due "
        "while away, and take them back on return"]
    assert lasso.writes() == []


def test_people_need_their_lasso_user_id(lasso: FakeVendor) -> None:
    with pytest.raises(RoutingError, match="no lasso_user_id for Temp"):
        client(lasso).user_id(PersonConfig(email="t@rh.example", name="Temp", role="backup"))


def test_rate_limit_server_error_bad_key_and_missing_registrant(lasso: FakeVendor) -> None:
    crm = client(lasso)
    lasso.fail_next(429, {"Retry-After": "30"})
    with pytest.raises(RoutingError) as limited:
        crm.new_leads(owner_id="71", since=START)
    assert limited.value.transient and limited.value.retry_after == 30.0
    lasso.fail_next(500)
    with pytest.raises(RoutingError) as broken:
        crm.fetch(RecordKind.LEAD, "9003")
    assert broken.value.transient
    with pytest.raises(RoutingError) as refused:
        client(lasso, key="revoked").new_leads(owner_id="71", since=START)
    assert not refused.value.transient and "Lasso refused the credentials" in str(refused.value)
    assert crm.fetch(RecordKind.LEAD, "404404") is None
    with pytest.raises(RoutingError, match="no such record"):
        crm.set_owner(CrmRecord(RecordKind.LEAD, "404404", "[]"), owner="[]")
