"""Salesforce hand-over against a local HTTPS fake of its REST API, via simple-salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, MoveStatus, RecordKind, SwitchStatus
from routing.salesforce import SalesforceCrm
from tests.routing.crm_harness import crm_harness
from tests.routing.fake_salesforce import FakeSalesforce, trusting_session

TOKEN = "00Dxx0000001gPL!session"
START = datetime(2026, 12, 1, 14, tzinfo=UTC)
END = START + timedelta(days=42)
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc")
BACKUP = PersonConfig(email="o'neil@rh.example", name="Sam O'Neil", role="backup")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def salesforce(ca: trustme.CA) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(token=TOKEN, ca=ca) as fake:
        fake.put("User", "005A", Email=OSC.email, IsActive=True)
        fake.put("User", "005B", Email=BACKUP.email, IsActive=True)
        fake.put("User", "005X", Email=BACKUP.email, IsActive=False)
        fake.put("Lead", "00QOLD", OwnerId="005A", IsConverted=False,
                 CreatedDate="2026-10-20T10:00:00Z")
        fake.put("Lead", "00QNEW", OwnerId="005A", IsConverted=False,
                 CreatedDate="2026-12-02T09:30:00Z")
        fake.put("Lead", "00QWON", OwnerId="005A", IsConverted=True,
                 CreatedDate="2026-12-02T10:00:00Z")
        fake.put("Task", "00TDUE", OwnerId="005A", IsClosed=False, ActivityDate="2026-12-04")
        fake.put("Task", "00TLATE", OwnerId="005A", IsClosed=False, ActivityDate="2027-02-01")
        yield fake


def client(fake: FakeSalesforce, ca: trustme.CA, tmp_path: Path,
           token: str = TOKEN) -> SalesforceCrm:
    return SalesforceCrm(instance_url=fake.url, access_token=token,
                         session=trusting_session(ca, tmp_path))


def test_long_leave_reassigns_with_auto_assign_off_and_puts_back(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path) -> None:
    h = crm_harness(client(salesforce, ca, tmp_path), osc_email=OSC.email,
                    backup_email=BACKUP.email, start=START, end=END)
    repos, engine, coverage = h.repos, h.engine, h.coverage

    [journal] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s",
                                  reason="leave")

    assert journal.status is SwitchStatus.APPLIED
    assert salesforce.owner_of("Lead", "00QNEW") == "005B"
    assert salesforce.owner_of("Task", "00TDUE") == "005B"
    assert [salesforce.owner_of(t, i) for t, i in (
        ("Lead", "00QOLD"), ("Lead", "00QWON"), ("Task", "00TLATE"))] == ["005A"] * 3
    queries = [r.query["q"][0] for r in salesforce.requests if r.path.endswith("/query/")]
    assert queries == [
        "SELECT Id FROM User WHERE Email = 'maria@rh.example' AND IsActive = true LIMIT 1",
        "SELECT Id FROM User WHERE Email = 'o\\'neil@rh.example' AND IsActive = true LIMIT 1",
        "SELECT Id, OwnerId, IsClosed FROM Task WHERE OwnerId = '005A' AND IsClosed = false "
        "AND ActivityDate < 2027-01-12",
        "SELECT Id, OwnerId, IsConverted FROM Lead WHERE OwnerId = '005A' "
        "AND CreatedDate >= 2026-12-01T14:00:00Z AND IsConverted = false"]
    patches = [r for r in salesforce.writes()]
    assert [(r.method, r.path, r.body) for r in patches] == [
        ("PATCH", "/services/data/v59.0/sobjects/Task/00TDUE", {"OwnerId": "005B"}),
        ("PATCH", "/services/data/v59.0/sobjects/Lead/00QNEW", {"OwnerId": "005B"})]
    assert all(r.headers["sforce-auto-assign"] == "FALSE" for r in patches)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in salesforce.requests)

    [back] = engine.revert_all(coverage=coverage, osc=OSC, actor=OSC.email, reason="back")
    assert back.status is SwitchStatus.REVERTED
    assert salesforce.owner_of("Lead", "00QNEW") == salesforce.owner_of("Task", "00TDUE") == "005A"
    assert {m.status for m in repos.moves.list()} == {MoveStatus.RETURNED}


def test_query_follows_next_records_url(salesforce: FakeSalesforce, ca: trustme.CA,
                                        tmp_path: Path) -> None:
    salesforce.page_size = 2
    for n in range(5):
        salesforce.put("Task", f"00T{n}", OwnerId="005A", IsClosed=False,
                       ActivityDate="2026-12-02")
    tasks = client(salesforce, ca, tmp_path).open_tasks(owner_id="005A", due_before=END)
    assert len(tasks) == 6
    assert [r.path for r in salesforce.requests][-2:] == [
        "/services/data/v59.0/query/01g-2", "/services/data/v59.0/query/01g-4"]


def test_rate_limits_are_transient_with_retry_after(salesforce: FakeSalesforce,
                                                    ca: trustme.CA, tmp_path: Path) -> None:
    crm = client(salesforce, ca, tmp_path)
    salesforce.fail_next(429, {"Retry-After": "12"})
    with pytest.raises(RoutingError) as caught:
        crm.open_tasks(owner_id="005A", due_before=END)
    assert caught.value.transient and caught.value.retry_after == 12.0


def test_server_errors_are_transient_and_write_nothing(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path) -> None:
    salesforce.fail_next(503)
    with pytest.raises(RoutingError) as caught:
        client(salesforce, ca, tmp_path).set_owner(
            CrmRecord(RecordKind.TASK, "00TDUE", "005A"), owner="005B")
    assert caught.value.transient
    assert salesforce.owner_of("Task", "00TDUE") == "005A"


def test_an_expired_session_is_a_clear_permanent_error(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path) -> None:
    with pytest.raises(RoutingError) as caught:
        client(salesforce, ca, tmp_path, token="expired").user_id(OSC)
    assert not caught.value.transient
    assert "Salesforce refused the credentials" in str(caught.value)


def test_missing_records_and_people(salesforce: FakeSalesforce, ca: trustme.CA,
                                    tmp_path: Path) -> None:
    crm = client(salesforce, ca, tmp_path)
    assert crm.fetch(RecordKind.LEAD, "00QGONE") is None
    with pytest.raises(RoutingError, match="no such record"):
        crm.set_owner(CrmRecord(RecordKind.LEAD, "00QGONE", "005A"), owner="005B")
    stranger = PersonConfig(email="temp@rh.example", name="Temp", role="backup")
    with pytest.raises(RoutingError, match="Temp"):
        crm.user_id(stranger)
    converted = crm.fetch(RecordKind.LEAD, "00QWON")
    assert converted is not None and not converted.open
