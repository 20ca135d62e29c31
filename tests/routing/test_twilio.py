"""Twilio: the voice webhook dials whoever is responsible; the drill checks Twilio's config."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.model import AbsenceKind, CoverageMode
from handlers.http.app import create_app
from handlers.wiring import build_context
from routing.twilio import TwilioRouting, voice_response
from tests.conftest import make_config
from tests.routing.fake_vendor import FakeVendor

SID, TOKEN = "AC" + "1" * 32, "twilio-auth-token"
PUBLIC = "https://oscbot.builder.example"
NUMBER = "+15125559000"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)


def test_twiml_dials_or_takes_a_message() -> None:
    assert voice_response(dial="+15125550142", fallback=None) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="25">+15125550142'
        "</Dial></Response>")
    assert "<Record" in voice_response(dial=None, fallback=None)


def test_webhook_dials_the_backup_during_coverage_and_checks_signatures() -> None:
    config = make_config()
    people = config.model_dump(mode="json")["people"]
    people[0]["routing_ids"] = {"twilio_number": NUMBER}
    config = make_config(people=people,
                         routing={"calls": {"adapter": "twilio",
                                            "settings": {"webhook_url": f"{PUBLIC}/voice/twilio"}}})
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=FixedClock(T0),
                        chat=RecordingChat(), sources={},
                        env={"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN})
    ctx.public_url = PUBLIC
    client = TestClient(create_app(ctx, lead_secret=None, twilio_token=TOKEN))
    form = {"CallSid": "CA1", "From": "+15125550100", "To": NUMBER}

    def call() -> Any:
        signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/voice/twilio", form)
        return client.post("/voice/twilio", data=form, headers={"X-Twilio-Signature": signature})

    assert "<Dial timeout=\"25\">+15125550101</Dial>" in call().text
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0, end=T0 + timedelta(days=2),
                         kind=AbsenceKind.SICK, actor="maria@rh.example", emergency=True)
    assert "<Dial timeout=\"25\">+15125550142</Dial>" in call().text
    forged = client.post("/voice/twilio", data=form, headers={"X-Twilio-Signature": "nope"})
    assert forged.status_code == 403


@pytest.fixture
def twilio() -> Iterator[FakeVendor]:
    def route(method: str, path: str, query: dict[str, list[str]], body: Any
              ) -> tuple[int, Any]:
        if path != f"/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers.json":
            return 404, {"code": 20404, "message": "not found", "status": 404}
        numbers = [{"sid": "PN1", "phone_number": NUMBER,
                    "voice_url": f"{PUBLIC}/voice/twilio"}]
        wanted = query.get("PhoneNumber", [""])[0]
        found = [n for n in numbers if n["phone_number"] == wanted]
        return 200, {"incoming_phone_numbers": found, "page": 0, "page_size": 1,
                     "next_page_uri": None, "uri": path}

    with FakeVendor(route) as fake:
        yield fake


def test_check_reads_twilio_and_switch_is_a_route_change(twilio: FakeVendor) -> None:
    repos = in_memory_repositories()
    osc = PersonConfig(email="maria@rh.example", name="Maria", role="osc",
                       phone="+15125550101", routing_ids={"twilio_number": NUMBER})
    backup = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup",
                          phone="+15125550142")
    calls = TwilioRouting(routes=repos.routes, account_sid=SID, auth_token=TOKEN,
                          webhook_url=f"{PUBLIC}/voice/twilio", api_base=twilio.url)
    assert calls.check(osc=osc, backup=backup) == []
    assert twilio.requests[0].headers["authorization"].startswith("Basic ")
    elsewhere = TwilioRouting(routes=repos.routes, account_sid=SID, auth_token=TOKEN,
                              webhook_url="https://other.example/voice", api_base=twilio.url)
    assert "not to oscbot" in elsewhere.check(osc=osc, backup=backup)[0]
    unknown = osc.model_copy(update={"routing_ids": {"twilio_number": "+15125550000"}})
    assert "not a number in this Twilio account" in calls.check(osc=unknown, backup=backup)[0]
    twilio.fail_next(500)
    assert calls.check(osc=osc, backup=backup)[0].startswith("Twilio")
    after = calls.switch(osc=osc, backup=backup, mode=CoverageMode.SHORT_TERM)
    assert after.target == "jordan@rh.example"
    calls.restore(osc=osc, snapshot=calls.read(osc=osc).__class__("calls", osc.email))
    assert repos.routes.get(osc_email=osc.email, channel="calls") is None
    no_phone = backup.model_copy(update={"phone": None})
    with pytest.raises(RoutingError, match="no phone number"):
        calls.switch(osc=osc, backup=no_phone, mode=CoverageMode.SHORT_TERM)
    assert twilio.writes() == []
