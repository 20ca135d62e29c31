"""Gmail lead-sender filter through the real Gmail client, against a local fake."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from google.oauth2.credentials import Credentials

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode
from routing.gmail_filter import GmailFilterRouting
from tests.routing.fake_gmail import FakeGmail

OSC = PersonConfig(email="maria@builder.example", name="Maria", role="osc")
BACKUP = PersonConfig(email="jordan@builder.example", name="Jordan", role="backup")
SENDERS = ["leads@builder.example", "noreply@zillow.example"]
TOKEN = "ya29.maria"


@pytest.fixture
def gmail() -> Iterator[FakeGmail]:
    with FakeGmail(token=TOKEN, mailbox=OSC.email,
                   domain_aliases=("builderhomes.example",)) as fake:
        fake.filters.append({"id": "F-own", "criteria": {"from": "newsletter@hoa.example"},
                             "action": {"addLabelIds": ["Label_1"]}})
        yield fake


def routing(gmail: FakeGmail, token: str = TOKEN) -> GmailFilterRouting:
    return GmailFilterRouting(
        credentials_for=lambda email: Credentials(token=token),  # type: ignore[no-untyped-call]
        lead_senders=SENDERS, api_endpoint=f"{gmail.url}/")


def test_filter_forwards_only_lead_senders_and_restore_removes_only_it(
        gmail: FakeGmail) -> None:
    email = routing(gmail)
    before = email.read(osc=OSC)
    assert before.target == OSC.email
    after = email.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert after.target == BACKUP.email
    email.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    created = [r.body for r in gmail.writes() if r.path.endswith("/filters")]
    assert created == [{"criteria": {"from": "leads@builder.example OR noreply@zillow.example"},
                        "action": {"forward": "jordan@builder.example"}}]
    assert email.restore(osc=OSC, snapshot=before).target == OSC.email
    assert [f["id"] for f in gmail.filters] == ["F-own"]


@pytest.mark.parametrize("address", ["jordan@sales.builder.example",
                                     "jordan@builderhomes.example"])
def test_subdomains_and_domain_aliases_forward_at_once(gmail: FakeGmail, address: str) -> None:
    backup = BACKUP.model_copy(update={"email": address})
    assert routing(gmail).check(osc=OSC, backup=backup) == (
        [] if "sales." in address else [f"{address} is outside builder.example: unless its "
                                         "domain is an alias in your Google Workspace account, "
                                         "Gmail will ask Jordan to confirm forwarding before "
                                         "the switch can be made"])
    state = routing(gmail).switch(osc=OSC, backup=backup, mode=CoverageMode.SHORT_TERM)
    assert state.target == address
    assert gmail.forwarding[address] == "accepted"
    assert routing(gmail).check(osc=OSC, backup=backup) == []


def test_another_domain_waits_for_the_backups_confirmation(gmail: FakeGmail) -> None:
    outsider = BACKUP.model_copy(update={"email": "jordan@gmail.example"})
    email = routing(gmail)
    with pytest.raises(RoutingError, match="Jordan must confirm") as pending:
        email.switch(osc=OSC, backup=outsider, mode=CoverageMode.SHORT_TERM)
    assert pending.value.transient
    assert "click the link in Gmail's forwarding confirmation" in pending.value.manual_step
    assert "forward to jordan@gmail.example" in pending.value.manual_step
    assert gmail.forwarding == {"jordan@gmail.example": "pending"}
    assert [f["id"] for f in gmail.filters] == ["F-own"]  # no filter to a pending address
    gmail.confirm("jordan@gmail.example")
    assert email.switch(osc=OSC, backup=outsider,
                        mode=CoverageMode.SHORT_TERM).target == "jordan@gmail.example"


def test_the_fake_refuses_filters_to_addresses_gmail_has_not_accepted(gmail: FakeGmail) -> None:
    url = f"{gmail.url}/gmail/v1/users/me/settings/filters"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"criteria": {"from": "leads@builder.example"},
            "action": {"forward": "jordan@gmail.example"}}
    unknown = httpx.post(url, json=body, headers=auth)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Unrecognized forwarding address"
    gmail.forwarding["jordan@gmail.example"] = "pending"
    pending = httpx.post(url, json=body, headers=auth)
    assert pending.status_code == 400
    assert pending.json()["error"]["errors"][0]["reason"] == "failedPrecondition"


def test_refusals_and_errors(gmail: FakeGmail) -> None:
    email = routing(gmail)
    gmail.fail_next(429, {"Retry-After": "5"})
    with pytest.raises(RoutingError) as limited:
        email.read(osc=OSC)
    assert limited.value.retry_after == 5
    gmail.fail_next(503)
    assert "HTTP 503" in email.check(osc=OSC, backup=BACKUP)[0]
    with pytest.raises(RoutingError, match="credentials"):
        routing(gmail, token="revoked").read(osc=OSC)
    with pytest.raises(RoutingError, match="lead_senders"):
        GmailFilterRouting(credentials_for=lambda e: None, lead_senders=[])
