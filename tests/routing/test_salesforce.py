"""Salesforce hand-over against a local HTTPS fake of its REST API and sign-in endpoints,
through simple-salesforce."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import routing.salesforce as sf
from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.ports.routing import CrmRecord, MoveStatus, RecordKind, SwitchStatus
from routing.setup import RoutingSetup
from tests.routing.crm_harness import crm_harness
from tests.routing.fake_salesforce import (
    MY_DOMAIN,
    WEB_LEAD_QUEUE,
    FakeSalesforce,
    mapped_session,
    trusting_session,
)
from tests.routing.fake_vendor import VirtualClock

TOKEN = "00Dxx0000001gPL!session"
CLIENT_ID, CLIENT_SECRET = "3MVG9-consumer-key", "consumer-secret"
INTEGRATION_USER = "oscbot@riverside.example"
START = datetime(2026, 12, 1, 14, tzinfo=UTC)
END = START + timedelta(days=42)
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc")
BACKUP = PersonConfig(email="o'neil@rh.example", name="Sam O'Neil", role="backup")


def client_credentials() -> sf.SalesforceAuth:
    return sf.SalesforceAuth(sf.Flow.CLIENT_CREDENTIALS, client_id=CLIENT_ID,
                             client_secret=CLIENT_SECRET, domain="acme.my")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def salesforce(ca: trustme.CA, clock: VirtualClock) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(token=TOKEN, ca=ca, clock=clock) as fake:
        fake.apps[CLIENT_ID] = CLIENT_SECRET
        fake.run_as = INTEGRATION_USER
        fake.put("User", "005I", Email="it@rh.example", Username=INTEGRATION_USER,
                 IsActive=True)
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
           auth: sf.SalesforceAuth | None = None) -> sf.SalesforceCrm:
    return sf.SalesforceCrm(auth=auth or client_credentials(),
                            session=mapped_session(fake, ca, tmp_path))


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
    [sign_in] = [r for r in salesforce.requests if r.path == "/services/oauth2/token"]
    assert sign_in.headers["host"] == MY_DOMAIN
    assert sign_in.form() == {"grant_type": "client_credentials"}
    assert sign_in.headers["authorization"] == "Basic " + base64.b64encode(
        f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    queries = [r.query["q"][0] for r in salesforce.requests if r.path.endswith("/query/")]
    assert queries == [
        "SELECT Id FROM User WHERE Email = 'maria@rh.example' AND IsActive = true LIMIT 1",
        "SELECT Id FROM User WHERE Email = 'o\\'neil@rh.example' AND IsActive = true LIMIT 1",
        "SELECT Id, OwnerId, IsClosed FROM Task WHERE OwnerId = '005A' AND IsClosed = false "
        "AND ActivityDate < 2027-01-12",
        "SELECT Id, OwnerId, IsConverted FROM Lead WHERE OwnerId = '005A' "
        "AND CreatedDate >= 2026-12-01T14:00:00Z AND IsConverted = false"]
    patches = salesforce.writes()[1:]
    assert [(r.method, r.path, r.body) for r in patches] == [
        ("PATCH", "/services/data/v59.0/sobjects/Task/00TDUE", {"OwnerId": "005B"}),
        ("PATCH", "/services/data/v59.0/sobjects/Lead/00QNEW", {"OwnerId": "005B"})]
    assert all(r.headers["sforce-auto-assign"] == "FALSE" for r in patches)
    assert len({r.headers["authorization"] for r in salesforce.api_requests()}) == 1

    [back] = engine.revert_all(coverage=coverage, osc=OSC, actor=OSC.email, reason="back")
    assert back.status is SwitchStatus.REVERTED
    assert salesforce.owner_of("Lead", "00QNEW") == salesforce.owner_of("Task", "00TDUE") == "005A"
    assert {m.status for m in repos.moves.list()} == {MoveStatus.RETURNED}


def test_a_session_that_ends_mid_leave_is_renewed_and_the_move_keeps_auto_assign_off(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path,
        clock: VirtualClock) -> None:
    h = crm_harness(client(salesforce, ca, tmp_path), osc_email=OSC.email,
                    backup_email=BACKUP.email, start=START, end=END)
    engine, coverage = h.engine, h.coverage
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="leave")

    clock.now += 3 * 3600  # past the org's two-hour session timeout
    salesforce.put("Lead", "00QLATER", OwnerId="005A", IsConverted=False,
                   CreatedDate="2026-12-03T09:00:00Z")
    assert engine.hand_over_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="job") == []
    assert salesforce.owner_of("Lead", "00QLATER") == "005B"  # not the assignment queue
    assert salesforce.sign_ins == ["client credentials"] * 2

    salesforce.expire_sessions()  # an admin logs every session out
    [back] = engine.revert_all(coverage=coverage, osc=OSC, actor=OSC.email, reason="back")
    assert back.status is SwitchStatus.REVERTED
    assert {salesforce.owner_of("Lead", i) for i in ("00QNEW", "00QLATER")} == {"005A"}
    assert len(salesforce.sign_ins) == 3


def test_a_jwt_bearer_sign_in_signed_with_the_apps_key(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path,
        clock: VirtualClock) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "salesforce.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    salesforce.app_keys[CLIENT_ID] = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    auth = sf.SalesforceAuth(sf.Flow.JWT_BEARER, client_id=CLIENT_ID, key_file=str(key_file),
                          username=INTEGRATION_USER, domain="acme.my")
    crm = client(salesforce, ca, tmp_path, auth)
    assert crm.user_id(OSC) == "005A"
    clock.now += 3 * 3600
    assert crm.user_id(BACKUP) == "005B"
    assert salesforce.sign_ins == ["JWT bearer"] * 2
    [first, _] = [r for r in salesforce.requests if r.path == "/services/oauth2/token"]
    assert first.headers["host"] == MY_DOMAIN
    assert first.form()["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"

    stranger = sf.SalesforceAuth(sf.Flow.JWT_BEARER, client_id=CLIENT_ID, key_file=str(key_file),
                              username="someone@else.example", domain="acme.my")
    with (pytest.raises(RoutingError, match="pre-authorize the integration user"),
          pytest.warns(UserWarning, match="self-authorize")):  # simple-salesforce's own hint
        client(salesforce, ca, tmp_path, stranger).user_id(OSC)


@pytest.mark.parametrize(("change", "words"), [
    ("secret", "invalid_client: invalid client credentials); check SALESFORCE_CLIENT_ID and "
               "SALESFORCE_CLIENT_SECRET"),
    ("run_as", "no client credentials user enabled); choose a Run As user"),
    ("domain", "request not supported on this domain); SALESFORCE_DOMAIN must be your My "
               "Domain"),
])
def test_sign_in_refusals_say_what_to_fix(salesforce: FakeSalesforce, ca: trustme.CA,
                                          tmp_path: Path, change: str, words: str) -> None:
    auth = client_credentials()
    if change == "secret":
        auth = sf.SalesforceAuth(sf.Flow.CLIENT_CREDENTIALS, client_id=CLIENT_ID,
                              client_secret="wrong", domain="acme.my")
    if change == "run_as":
        salesforce.run_as = None
    if change == "domain":
        # simple-salesforce itself refuses the flow at login/test; an org's other host
        # reaches the token endpoint, which serves the flow only at the My Domain.
        auth = sf.SalesforceAuth(sf.Flow.CLIENT_CREDENTIALS, client_id=CLIENT_ID,
                              client_secret=CLIENT_SECRET, domain="acme.lightning.force")
        crm = sf.SalesforceCrm(auth=auth, session=mapped_session(
            salesforce, ca, tmp_path, hosts=("acme.lightning.force.salesforce.com",)))
    else:
        crm = client(salesforce, ca, tmp_path, auth)
    with pytest.raises(RoutingError) as refused:
        crm.user_id(OSC)
    assert not refused.value.transient
    assert "Salesforce refused to sign in with the client credentials flow (" in str(
        refused.value)
    assert words in str(refused.value)
    assert salesforce.api_requests() == []


def test_a_pasted_access_token_cannot_be_renewed_and_says_so(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path,
        clock: VirtualClock) -> None:
    auth = sf.SalesforceAuth(sf.Flow.ACCESS_TOKEN, access_token=TOKEN, instance_url=salesforce.url)
    crm = sf.SalesforceCrm(auth=auth, session=trusting_session(ca, tmp_path))
    assert crm.user_id(OSC) == "005A"
    clock.now += 3 * 3600
    with pytest.raises(RoutingError) as ended:
        crm.user_id(BACKUP)
    assert not ended.value.transient
    assert "ended the session of SALESFORCE_ACCESS_TOKEN (INVALID_SESSION_ID)" in str(
        ended.value)
    assert "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET" in str(ended.value)


def test_the_deprecated_password_sign_in_uses_soap_below_api_65(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path) -> None:
    salesforce.passwords[INTEGRATION_USER] = "hunter2" + "SECTOKEN"
    auth = sf.SalesforceAuth(sf.Flow.PASSWORD, username=INTEGRATION_USER, password="hunter2",
                          security_token="SECTOKEN")
    assert client(salesforce, ca, tmp_path, auth).user_id(OSC) == "005A"
    [login] = [r for r in salesforce.requests if r.path.startswith("/services/Soap/u/")]
    assert login.path == f"/services/Soap/u/{sf.API_VERSION}" and float(sf.API_VERSION) < 65.0
    assert login.headers["host"] == "login.salesforce.com"
    refused = requests.post(f"{salesforce.url}/services/Soap/u/65.0", data=login.raw,
                            verify=str(tmp_path / "fake-ca.pem"))
    assert refused.status_code == 500 and b"UNSUPPORTED_API_VERSION" in refused.content


def test_the_fake_applies_lead_assignment_rules_without_the_header(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path) -> None:
    session = trusting_session(ca, tmp_path)
    url = f"{salesforce.url}/services/data/v59.0/sobjects/Lead/00QNEW"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert session.patch(url, json={"OwnerId": "005B"}, headers=auth).status_code == 204
    assert salesforce.owner_of("Lead", "00QNEW") == WEB_LEAD_QUEUE
    session.patch(url, json={"OwnerId": "005B"}, headers={**auth, "Sforce-Auto-Assign": "false"})
    assert salesforce.owner_of("Lead", "00QNEW") == "005B"


def test_the_environment_chooses_the_connected_app_first() -> None:
    both = {"SALESFORCE_CLIENT_ID": CLIENT_ID, "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
            "SALESFORCE_DOMAIN": "https://acme.my.salesforce.com/",
            "SALESFORCE_USERNAME": "u", "SALESFORCE_PASSWORD": "p",
            "SALESFORCE_ACCESS_TOKEN": "t"}
    auth = sf.auth_from_env(both)
    assert auth is not None and auth.flow is sf.Flow.CLIENT_CREDENTIALS and auth.domain == "acme.my"
    jwt_env = {"SALESFORCE_CLIENT_ID": CLIENT_ID, "SALESFORCE_JWT_KEY_FILE": "/k.pem",
               "SALESFORCE_USERNAME": INTEGRATION_USER}
    assert sf.auth_from_env(jwt_env) == sf.SalesforceAuth(
        sf.Flow.JWT_BEARER, client_id=CLIENT_ID, key_file="/k.pem", username=INTEGRATION_USER)
    password = sf.auth_from_env({"SALESFORCE_USERNAME": "u", "SALESFORCE_PASSWORD": "p",
                              "SALESFORCE_SECURITY_TOKEN": "s"})
    assert password is not None and password.flow is sf.Flow.PASSWORD
    token = sf.auth_from_env({"SALESFORCE_ACCESS_TOKEN": "t", "SALESFORCE_INSTANCE_URL": "https://x"})
    assert token is not None and not token.renewable
    assert sf.auth_from_env({}) is None
    assert sf.salesforce_domain("acme--uat.sandbox.my.salesforce.com") == "acme--uat.sandbox.my"
    assert sf.salesforce_domain("test") == "test"
    with pytest.raises(ValueError, match="My Domain"):
        sf.salesforce_domain("https://acme.example.com")
    repos = in_memory_repositories()
    setup = RoutingSetup(channel="leads", settings={}, env=both, routes=repos.routes,
                         moves=repos.moves, clock=FixedClock(START), graph=lambda: None)
    assert sf.build(setup) is not None
    assert sf.build(RoutingSetup(channel="leads", settings={}, env={}, routes=repos.routes,
                              moves=repos.moves, clock=FixedClock(START),
                              graph=lambda: None)) is None


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
    crm.user_id(OSC)
    salesforce.fail_next(429, {"Retry-After": "12"})
    with pytest.raises(RoutingError) as caught:
        crm.open_tasks(owner_id="005A", due_before=END)
    assert caught.value.transient and caught.value.retry_after == 12.0


def test_server_errors_are_transient_and_write_nothing(
        salesforce: FakeSalesforce, ca: trustme.CA, tmp_path: Path) -> None:
    crm = client(salesforce, ca, tmp_path)
    crm.user_id(OSC)
    salesforce.fail_next(503)
    with pytest.raises(RoutingError) as caught:
        crm.set_owner(CrmRecord(RecordKind.TASK, "00TDUE", "005A"), owner="005B")
    assert caught.value.transient
    assert salesforce.owner_of("Task", "00TDUE") == "005A"


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
