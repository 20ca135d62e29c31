"""HubSpot hand-over against a local fake of its CRM v3 API, through the real client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import bot.ports.routing as ports
import routing.hubspot as hubspot_routing
from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, MoveStatus, RecordKind, SwitchStatus
from routing.hubspot import HubSpotCrm
from tests.routing.crm_harness import crm_harness
from tests.routing.fake_hubspot import ALL_SCOPES, FakeHubSpot
from tests.routing.fake_vendor import VirtualClock

TOKEN = "pat-na1-test"
START = datetime(2026, 12, 1, 14, tzinfo=UTC)
END = START + timedelta(days=60)
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc")
BACKUP = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup")
OLD_CONTACT, NEW_CONTACT, DUE_TASK, DONE_TASK = "501", "502", "901", "902"


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def hubspot(clock: VirtualClock) -> Iterator[FakeHubSpot]:
    with FakeHubSpot(token=TOKEN, owners={OSC.email: "101", BACKUP.email: "202"},
                     clock=clock) as fake:
        fake.put("contacts", OLD_CONTACT, hubspot_owner_id="101",
                 createdate=ms(START - timedelta(days=40)))
        fake.put("contacts", NEW_CONTACT, hubspot_owner_id="101",
                 createdate=ms(START + timedelta(days=1)))
        fake.put("tasks", DUE_TASK, hubspot_owner_id="101", hs_task_status="NOT_STARTED",
                 hs_timestamp=ms(START + timedelta(days=3)))
        fake.put("tasks", DONE_TASK, hubspot_owner_id="101", hs_task_status="COMPLETED",
                 hs_timestamp=ms(START + timedelta(days=3)))
        yield fake


def client(fake: FakeHubSpot, clock: VirtualClock, token: str = TOKEN,
           lead_object: str = "contacts") -> HubSpotCrm:
    return HubSpotCrm(access_token=token, host=fake.url, clock=clock, sleep=clock.sleep,
                      lead_object=lead_object)


def test_long_leave_hands_over_and_back_with_the_documented_requests(
        hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    h = crm_harness(client(hubspot, clock), osc_email=OSC.email, backup_email=BACKUP.email,
                    start=START, end=END)
    repos, engine, coverage = h.repos, h.engine, h.coverage

    [journal] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s",
                                  reason="leave")

    assert journal.status is SwitchStatus.APPLIED
    assert hubspot.owner_of("contacts", NEW_CONTACT) == "202"
    assert hubspot.owner_of("tasks", DUE_TASK) == "202"
    assert hubspot.owner_of("contacts", OLD_CONTACT) == "101"
    assert hubspot.owner_of("tasks", DONE_TASK) == "101"
    searches = hubspot.searches()
    assert [r.path for r in searches] == ["/crm/v3/objects/tasks/search",
                                          "/crm/v3/objects/contacts/search"]
    assert searches[0].body["filterGroups"][0]["filters"] == [
        {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "101"},
        {"propertyName": "hs_task_status", "operator": "NEQ", "value": "COMPLETED"},
        {"propertyName": "hs_timestamp", "operator": "LT", "value": ms(END)}]
    assert searches[0].body["sorts"] == [{"propertyName": "hs_object_id",
                                          "direction": "ASCENDING"}]
    assert searches[0].body["limit"] == 200 and "after" not in searches[0].body
    assert {"propertyName": "createdate", "operator": "GTE",
            "value": ms(START)} in searches[1].body["filterGroups"][0]["filters"]
    updates = [(r.path, r.body) for r in hubspot.writes() if r.path.endswith("/batch/update")]
    assert updates == [
        ("/crm/v3/objects/tasks/batch/update",
         {"inputs": [{"id": DUE_TASK, "properties": {"hubspot_owner_id": "202"}}]}),
        ("/crm/v3/objects/contacts/batch/update",
         {"inputs": [{"id": NEW_CONTACT, "properties": {"hubspot_owner_id": "202"}}]})]
    owner_lookups = [r for r in hubspot.requests if r.path.startswith("/crm/v3/owners")]
    assert [r.query["email"] for r in owner_lookups] == [[OSC.email], [BACKUP.email]]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in hubspot.requests)

    [back] = engine.revert_all(coverage=coverage, osc=OSC, actor=OSC.email, reason="back")
    assert back.status is SwitchStatus.REVERTED
    assert hubspot.owner_of("contacts", NEW_CONTACT) == hubspot.owner_of("tasks", DUE_TASK) == "101"
    assert {m.status for m in repos.moves.list()} == {MoveStatus.RETURNED}
    assert [r.path for r in hubspot.requests if r.path.endswith("/batch/read")] == [
        "/crm/v3/objects/tasks/batch/read", "/crm/v3/objects/contacts/batch/read"]
    assert hubspot.refused == []


def test_search_pages_by_record_id_and_never_past_hubspots_cap(
        hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    for n in range(10_250):
        hubspot.put("tasks", str(100_000 + n), hubspot_owner_id="101",
                    hs_task_status="WAITING", hs_timestamp=ms(START + timedelta(minutes=n)))
    tasks = client(hubspot, clock).open_tasks(owner_id="101", due_before=END)
    assert len(tasks) == 10_251 and len({t.id for t in tasks}) == 10_251
    assert hubspot.refused == []  # no 400 for the cap, no 429 for the pace
    searches = hubspot.searches()
    assert len(searches) == 52
    assert all(r.body["limit"] == 200 and "after" not in r.body for r in searches)
    assert searches[1].body["filterGroups"][0]["filters"][-1] == {
        "propertyName": "hs_object_id", "operator": "GT", "value": "100198"}


def test_searches_are_paced_under_hubspots_per_second_limit(
        hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    for n in range(2_000):
        hubspot.put("tasks", str(100_000 + n), hubspot_owner_id="101",
                    hs_task_status="WAITING", hs_timestamp=ms(START))
    started = clock.now
    client(hubspot, clock).open_tasks(owner_id="101", due_before=END)
    assert len(hubspot.searches()) == 11
    assert hubspot.refused == []
    assert clock.now - started >= 2.0  # 11 searches at four a second


def test_the_fake_holds_searches_to_hubspots_published_limits(hubspot: FakeHubSpot) -> None:
    search = f"{hubspot.url}/crm/v3/objects/tasks/search"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def post(body: dict[str, object]) -> httpx.Response:
        return httpx.post(search, json=body, headers=auth)

    assert post({"limit": 201}).status_code == 400
    beyond = post({"limit": 100, "after": "9950"})
    assert beyond.status_code == 400 and "10,000" in beyond.json()["message"]
    too_many = [{"propertyName": "hs_task_status", "operator": "EQ", "value": "x"}] * 7
    assert post({"filterGroups": [{"filters": too_many}]}).status_code == 400
    # the same virtual second: the sixth search this second is refused, without Retry-After
    limited = [post({"limit": 1}) for _ in range(3)]
    assert [r.status_code for r in limited] == [200, 200, 429]
    assert limited[-1].json()["policyName"] == "SECONDLY"
    assert "retry-after" not in limited[-1].headers


def test_a_rate_limit_is_sat_out_as_hubspot_says_and_the_search_goes_on(
        hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    hubspot.fail_next(429, body={"status": "error", "message": "You have reached your "
                                 "ten_secondly_rolling limit.", "errorType": "RATE_LIMIT",
                                 "policyName": "TEN_SECONDLY_ROLLING"},
                      headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                               "X-HubSpot-RateLimit-Remaining": "0"})
    assert [t.id for t in client(hubspot, clock).open_tasks(owner_id="101", due_before=END)
            ] == [DUE_TASK]
    assert clock.slept[-1] == 10.0


def test_a_daily_limit_fails_the_attempt_as_transient_with_hubspots_wait(
        hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    hubspot.fail_next(429, body={"status": "error", "message": "You have reached your daily "
                                 "limit.", "errorType": "RATE_LIMIT", "policyName": "DAILY"})
    with pytest.raises(RoutingError) as caught:
        client(hubspot, clock).new_leads(owner_id="101", since=START)
    assert caught.value.transient and caught.value.retry_after == 3600.0
    assert "HubSpot rate limit (DAILY) while searching contacts" in str(caught.value)


def test_rate_limit_waits_come_from_hubspots_headers_and_policies() -> None:
    rate_limit_wait = hubspot_routing.rate_limit_wait
    assert rate_limit_wait({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
                           {"policyName": "TEN_SECONDLY_ROLLING"}) == 10.0
    assert rate_limit_wait({}, {"policyName": "SECONDLY"}) == 1.0
    assert rate_limit_wait({"X-HubSpot-RateLimit-Secondly-Remaining": "0"}, {}) == 1.0
    assert rate_limit_wait({}, {}) == 10.0  # nothing said: one ten-second window


def test_moves_go_in_batches_of_at_most_100(hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    crm = client(hubspot, clock)
    assert isinstance(crm, ports.BatchCrmClient)
    for n in range(250):
        hubspot.put("tasks", str(100_000 + n), hubspot_owner_id="101",
                    hs_task_status="WAITING", hs_timestamp=ms(START))
    ids = [str(100_000 + n) for n in range(250)]
    written = crm.set_owners(RecordKind.TASK, {i: "202" for i in [*ids, "999999"]})
    assert set(written) == set(ids)  # the one HubSpot does not have is left out
    sizes = [len(r.body["inputs"]) for r in hubspot.writes()]
    assert sizes == [100, 100, 51]
    assert set(crm.fetch_many(RecordKind.TASK, [*ids, "999999"])) == set(ids)
    assert all(hubspot.owner_of("tasks", i) == "202" for i in ids)


def test_the_fake_refuses_oversized_batches_and_unknown_properties(
        hubspot: FakeHubSpot) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = {"inputs": [{"id": str(n), "properties": {"hubspot_owner_id": "1"}}
                      for n in range(101)]}
    assert httpx.post(f"{hubspot.url}/crm/v3/objects/tasks/batch/update", json=big,
                      headers=auth).status_code == 400
    unknown = httpx.patch(f"{hubspot.url}/crm/v3/objects/contacts/{NEW_CONTACT}",
                          json={"properties": {"hs_task_status": "COMPLETED"}}, headers=auth)
    assert unknown.status_code == 400 and "PROPERTY_DOESNT_EXIST" in unknown.json()["message"]


def test_deals_as_the_lead_object(hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    hubspot.put("deals", "7001", hubspot_owner_id="101", createdate=ms(START + timedelta(days=2)),
                dealstage="appointmentscheduled")
    crm = client(hubspot, clock, lead_object="deals")
    [deal] = crm.new_leads(owner_id="101", since=START)
    assert deal.id == "7001" and deal.open
    assert set(crm.set_owners(RecordKind.LEAD, {"7001": "202"})) == {"7001"}
    assert hubspot.owner_of("deals", "7001") == "202"


def test_a_missing_scope_names_the_scope_to_add(clock: VirtualClock) -> None:
    scopes = ALL_SCOPES - {"crm.objects.contacts.write"}
    with FakeHubSpot(token=TOKEN, owners={}, scopes=scopes, clock=clock) as fake:
        fake.put("tasks", DUE_TASK, hubspot_owner_id="101", hs_task_status="WAITING",
                 hs_timestamp=ms(START))
        with pytest.raises(RoutingError) as caught:
            client(fake, clock).set_owners(RecordKind.TASK, {DUE_TASK: "202"})
    assert not caught.value.transient
    assert "lacks the scope crm.objects.contacts.write" in str(caught.value)
    assert "Private Apps" in str(caught.value)


def test_configured_owner_ids_skip_the_lookup(hubspot: FakeHubSpot,
                                             clock: VirtualClock) -> None:
    osc = PersonConfig(email=OSC.email, name="Maria", role="osc",
                       routing_ids={"hubspot_owner_id": "999"})
    assert client(hubspot, clock).user_id(osc) == "999"
    assert hubspot.requests == []


def test_server_errors_are_transient(hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    hubspot.fail_next(502)
    with pytest.raises(RoutingError) as caught:
        client(hubspot, clock).set_owner(CrmRecord(RecordKind.TASK, DUE_TASK, "101"),
                                         owner="202")
    assert caught.value.transient
    assert hubspot.owner_of("tasks", DUE_TASK) == "101"


def test_an_expired_token_is_a_clear_permanent_error(hubspot: FakeHubSpot,
                                                     clock: VirtualClock) -> None:
    with pytest.raises(RoutingError) as caught:
        client(hubspot, clock, token="pat-expired").user_id(OSC)
    assert not caught.value.transient
    assert "HubSpot refused the private app token" in str(caught.value)
    assert "HUBSPOT_ACCESS_TOKEN" in str(caught.value)


def test_missing_records_and_unknown_people(hubspot: FakeHubSpot, clock: VirtualClock) -> None:
    crm = client(hubspot, clock)
    assert crm.fetch(RecordKind.LEAD, "404404") is None
    with pytest.raises(RoutingError, match="no such record"):
        crm.set_owner(CrmRecord(RecordKind.LEAD, "404404", "101"), owner="202")
    stranger = PersonConfig(email="temp@rh.example", name="Temp", role="backup")
    with pytest.raises(RoutingError, match="Temp"):
        crm.user_id(stranger)
