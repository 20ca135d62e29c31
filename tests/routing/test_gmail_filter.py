"""Gmail lead-sender filter through the real Gmail client, against a local fake."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode
from routing.gmail_filter import GmailFilterRouting
from tests.routing.fake_vendor import FakeVendor

OSC = PersonConfig(email="maria@builder.example", name="Maria", role="osc")
BACKUP = PersonConfig(email="jordan@builder.example", name="Jordan", role="backup")
SENDERS = ["leads@builder.example", "noreply@zillow.example"]


@pytest.fixture
def mailbox() -> dict[str, Any]:
    return {"filters": [{"id": "F-own", "criteria": {"from": "newsletter@hoa.example"},
                         "action": {"addLabelIds": ["Label_1"]}}],
            "forwarding": [], "auto_accept": True}


@pytest.fixture
def gmail(mailbox: dict[str, Any]) -> Iterator[FakeVendor]:
    ids = itertools.count(1)

    def route(method: str, path: str, query: dict[str, list[str]], body: Any
              ) -> tuple[int, Any]:
        base = "/gmail/v1/users/me/settings/"
        if path == base + "filters" and method == "GET":
            return 200, {"filter": mailbox["filters"]} if mailbox["filters"] else {}
        if path == base + "filters" and method == "POST":
            created = {"id": f"F{next(ids)}", **body}
            mailbox["filters"].append(created)
            return 200, created
        if path.startswith(base + "filters/") and method == "DELETE":
            mailbox["filters"] = [f for f in mailbox["filters"]
                                  if f["id"] != path.rsplit("/", 1)[1]]
            return 204, None
        if path == base + "forwardingAddresses" and method == "GET":
            return 200, {"forwardingAddresses": mailbox["forwarding"]}
        if path == base + "forwardingAddresses" and method == "POST":
            status = "accepted" if mailbox["auto_accept"] else "pending"
            entry = {"forwardingEmail": body["forwardingEmail"], "verificationStatus": status}
            mailbox["forwarding"].append(entry)
            return 200, entry
        return 404, {"error": {"code": 404, "message": "Not Found"}}

    with FakeVendor(route, auth="Bearer ya29.maria") as fake:
        yield fake


def routing(gmail: FakeVendor, token: str = "ya29.maria") -> GmailFilterRouting:
    return GmailFilterRouting(credentials_for=lambda email: Credentials(token=token),
                              lead_senders=SENDERS, api_endpoint=f"{gmail.url}/")


def test_filter_forwards_only_lead_senders_and_restore_removes_only_it(
        gmail: FakeVendor, mailbox: dict[str, Any]) -> None:
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
    assert [f["id"] for f in mailbox["filters"]] == ["F-own"]


def test_refusals_and_errors(gmail: FakeVendor, mailbox: dict[str, Any]) -> None:
    email = routing(gmail)
    outsider = BACKUP.model_copy(update={"email": "jordan@gmail.example"})
    with pytest.raises(RoutingError, match="outside Maria's email domain") as refused:
        email.switch(osc=OSC, backup=outsider, mode=CoverageMode.SHORT_TERM)
    assert "forward to jordan@gmail.example" in refused.value.manual_step
    mailbox["auto_accept"] = False
    with pytest.raises(RoutingError, match="not accepted") as pending:
        email.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert pending.value.transient
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
