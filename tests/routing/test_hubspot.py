"""HubSpot hand-over against a local fake of its CRM v3 API, through the real client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, MoveStatus, RecordKind, SwitchStatus
from routing.hubspot import HubSpotCrm
from tests.routing.crm_harness import crm_harness
from tests.routing.fake_hubspot import FakeHubSpot

TOKEN = "pat-na1-test"
START = datetime(2026, 12, 1, 14, tzinfo=UTC)
END = START + timedelta(days=60)
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc")
BACKUP = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup")


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(token=TOKEN, owners={OSC.email: "101", BACKUP.email: "202"}) as fake:
        fake.put("contacts", "c-old", hubspot_owner_id="101", createdate=ms(START - timedelta(
            days=40)))
        fake.put("contacts", "c-new", hubspot_owner_id="101",
                 createdate=ms(START + timedelta(days=1)))
        fake.put("tasks", "t-due", hubspot_owner_id="101", hs_task_status="NOT_STARTED",
                 hs_timestamp=ms(START + timedelta(days=3)))
        fake.put("tasks", "t-done", hubspot_owner_id="101", hs_task_status="COMPLETED",
                 hs_timestamp=ms(START + timedelta(days=3)))
        yield fake


def client(fake: FakeHubSpot, token: str = TOKEN) -> HubSpotCrm:
    return HubSpotCrm(access_token=token, host=fake.url)


def test_long_leave_hands_over_and_back_with_the_documented_requests(
        hubspot: FakeHubSpot) -> None:
    h = crm_harness(client(hubspot), osc_email=OSC.email, backup_email=BACKUP.email,
                    start=START, end=END)
    repos, engine, coverage = h.repos, h.engine, h.coverage

    [journal] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s",
                                  reason="leave")

    assert journal.status is SwitchStatus.APPLIED
    assert hubspot.owner_of("contacts", "c-new") == "202"
    assert hubspot.owner_of("tasks", "t-due") == "202"
    assert hubspot.owner_of("contacts", "c-old") == "101"
    assert hubspot.owner_of("tasks", "t-done") == "101"
    searches = [r for r in hubspot.requests if r.path.endswith("/search")]
    assert [r.path for r in searches] == ["/crm/v3/objects/tasks/search",
                                          "/crm/v3/objects/contacts/search"]
    assert searches[0].body["filterGroups"][0]["filters"] == [
        {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "101"},
        {"propertyName": "hs_task_status", "operator": "NEQ", "value": "COMPLETED"},
        {"propertyName": "hs_timestamp", "operator": "LT", "value": ms(END)}]
    assert {"propertyName": "createdate", "operator": "GTE",
            "value": ms(START)} in searches[1].body["filterGroups"][0]["filters"]
    patches = [(r.path, r.body) for r in hubspot.writes() if r.method == "PATCH"]
    assert patches == [
        ("/crm/v3/objects/tasks/t-due", {"properties": {"hubspot_owner_id": "202"}}),
        ("/crm/v3/objects/contacts/c-new", {"properties": {"hubspot_owner_id": "202"}})]
    owner_lookups = [r for r in hubspot.requests if r.path.startswith("/crm/v3/owners")]
    assert [r.query["email"] for r in owner_lookups] == [[OSC.email], [BACKUP.email]]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in hubspot.requests)

    [back] = engine.revert_all(coverage=coverage, osc=OSC, actor=OSC.email, reason="back")
    assert back.status is SwitchStatus.REVERTED
    assert hubspot.owner_of("contacts", "c-new") == hubspot.owner_of("tasks", "t-due") == "101"
    assert {m.status for m in repos.moves.list()} == {MoveStatus.RETURNED}


def test_search_pages_through_every_result(hubspot: FakeHubSpot) -> None:
    for n in range(130):
        hubspot.put("tasks", f"t{n}", hubspot_owner_id="101", hs_task_status="WAITING",
                    hs_timestamp=ms(START + timedelta(hours=n)))
    tasks = client(hubspot).open_tasks(owner_id="101", due_before=END)
    assert len(tasks) == 131
    assert [r.body.get("after") for r in hubspot.requests] == [None, "100"]


def test_configured_owner_ids_skip_the_lookup(hubspot: FakeHubSpot) -> None:
    osc = PersonConfig(email=OSC.email, name="Maria", role="osc",
                       routing_ids={"hubspot_owner_id": "999"})
    assert client(hubspot).user_id(osc) == "999"
    assert hubspot.requests == []


def test_rate_limit_is_transient_with_its_retry_after(hubspot: FakeHubSpot) -> None:
    hubspot.fail_next(429, {"Retry-After": "7"})
    with pytest.raises(RoutingError) as caught:
        client(hubspot).new_leads(owner_id="101", since=START)
    assert caught.value.transient and caught.value.retry_after == 7.0
    assert "HubSpot rate limit while searching contacts" in str(caught.value)


def test_server_errors_are_transient(hubspot: FakeHubSpot) -> None:
    hubspot.fail_next(502)
    with pytest.raises(RoutingError) as caught:
        client(hubspot).set_owner(CrmRecord(RecordKind.TASK, "t-due", "101"), owner="202")
    assert caught.value.transient
    assert hubspot.owner_of("tasks", "t-due") == "101"


def test_an_expired_token_is_a_clear_permanent_error(hubspot: FakeHubSpot) -> None:
    with pytest.raises(RoutingError) as caught:
        client(hubspot, token="pat-expired").user_id(OSC)
    assert not caught.value.transient
    assert "HubSpot refused the credentials" in str(caught.value)


def test_missing_records_and_unknown_people(hubspot: FakeHubSpot) -> None:
    crm = client(hubspot)
    assert crm.fetch(RecordKind.LEAD, "c-gone") is None
    with pytest.raises(RoutingError, match="no such record"):
        crm.set_owner(CrmRecord(RecordKind.LEAD, "c-gone", "101"), owner="202")
    stranger = PersonConfig(email="temp@rh.example", name="Temp", role="backup")
    with pytest.raises(RoutingError, match="Temp"):
        crm.user_id(stranger)
