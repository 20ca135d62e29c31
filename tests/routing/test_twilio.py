"""Twilio: the voice webhook dials whoever is responsible and takes a message when nobody
can be rung; the drill checks, against a local fake of Twilio, that calls reach it."""

from __future__ import annotations

import time
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
from bot.messages import plain
from bot.model import AbsenceKind, CoverageMode
from handlers.http.app import create_app
from handlers.wiring import build_context
from routing.setup import RoutingSetup
from routing.twilio import TwilioRouting, build, voice_response
from tests.conftest import make_config
from tests.routing.fake_twilio import FakeTwilio
from tests.routing.fake_vendor import Reply, Request

SID, TOKEN = "AC" + "1" * 32, "twilio-auth-token"
PUBLIC = "https://oscbot.builder.example"
WEBHOOK = f"{PUBLIC}/voice/twilio"
NUMBER = "+15125559000"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc", phone="+15125550101",
                   routing_ids={"twilio_number": NUMBER})
BACKUP = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup",
                      phone="+15125550142")


def test_twiml_dials_or_takes_a_message_that_ends_the_call() -> None:
    assert voice_response(dial="+15125550142", fallback=None) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="25">+15125550142'
        "</Dial></Response>")
    message = voice_response(dial=None, fallback=None, voicemail=f"{WEBHOOK}/voicemail")
    assert (f'<Record action="{WEBHOOK}/voicemail" maxLength="120" method="POST" />'
            "<Hangup />") in message


def signed(client: TestClient, url: str, form: dict[str, str]) -> Any:
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    return client.post(url.removeprefix(PUBLIC), data=form,
                       headers={"X-Twilio-Signature": signature})


def test_webhook_dials_the_backup_during_coverage_and_checks_signatures() -> None:
    people = make_config().model_dump(mode="json")["people"]
    people[0]["routing_ids"] = {"twilio_number": NUMBER}
    config = make_config(people=people, routing={"calls": {"adapter": "twilio"}})
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=FixedClock(T0),
                        chat=RecordingChat(), sources={},
                        env={"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
                             "OSCBOT_PUBLIC_URL": PUBLIC}, public_url=PUBLIC)
    client = TestClient(create_app(ctx, lead_secret=None, twilio_token=TOKEN))
    form = {"CallSid": "CA1", "From": "+15125550100", "To": NUMBER}

    dial = f'<Dial action="{WEBHOOK}/dialled" method="POST" timeout="25">'
    assert f"{dial}+15125550101</Dial>" in signed(client, WEBHOOK, form).text
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0, end=T0 + timedelta(days=2),
                         kind=AbsenceKind.SICK, actor="maria@rh.example", emergency=True)
    assert f"{dial}+15125550142</Dial>" in signed(client, WEBHOOK, form).text
    forged = client.post("/voice/twilio", data=form, headers={"X-Twilio-Signature": "nope"})
    assert forged.status_code == 403
    elsewhere = RequestValidator(TOKEN).compute_signature("https://other.example/voice", form)
    assert client.post("/voice/twilio", data=form,
                       headers={"X-Twilio-Signature": elsewhere}).status_code == 403


def test_a_call_nobody_answers_goes_to_voicemail_and_an_answered_one_ends() -> None:
    config = make_config(routing={"calls": {"adapter": "twilio"}})
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=FixedClock(T0),
                        chat=RecordingChat(), sources={}, public_url=PUBLIC)
    client = TestClient(create_app(ctx, lead_secret=None, twilio_token=TOKEN))
    call = {"CallSid": "CA5", "From": "+15125550100", "To": NUMBER}
    for status in ("no-answer", "busy", "failed"):
        missed = signed(client, f"{WEBHOOK}/dialled", {**call, "DialCallStatus": status}).text
        assert f'<Record action="{WEBHOOK}/voicemail"' in missed, status
    answered = signed(client, f"{WEBHOOK}/dialled", {**call, "DialCallStatus": "completed"})
    assert "<Hangup />" in answered.text and "<Record" not in answered.text
    assert client.post("/voice/twilio/dialled", data=call,
                       headers={"X-Twilio-Signature": "nope"}).status_code == 403


def test_a_voicemail_ends_the_call_and_tells_the_managers_once() -> None:
    people = make_config().model_dump(mode="json")["people"]
    people[0]["routing_ids"] = {"twilio_number": NUMBER}
    for person in people:
        person.pop("phone", None)  # nobody can be rung
    config = make_config(people=people, routing={"calls": {"adapter": "twilio"}})
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=FixedClock(T0),
                        chat=RecordingChat(), sources={}, public_url=PUBLIC)
    client = TestClient(create_app(ctx, lead_secret=None, twilio_token=TOKEN))
    call = {"CallSid": "CA9", "From": "+15125550100", "To": NUMBER}
    prompt = signed(client, WEBHOOK, call).text
    assert f'<Record action="{WEBHOOK}/voicemail"' in prompt and "<Dial" not in prompt

    recorded = {**call, "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/"
                "Recordings/RE1", "RecordingSid": "RE1", "RecordingDuration": "14"}
    for _ in range(2):  # Twilio may deliver the action request twice
        done = signed(client, f"{WEBHOOK}/voicemail", recorded)
        assert done.status_code == 200 and "<Hangup />" in done.text and "<Record" not in done.text
    [item] = [i for i in ctx.outbox.recent() if i.key == "voicemail:CA9"]
    text = plain(item.message.text)
    assert "Voicemail on Maria's line from +15125550100 (14 s)" in text
    assert set(item.message.mentions) == set(config.team.managers)
    another = signed(client, f"{WEBHOOK}/voicemail", {**recorded, "CallSid": "CA10"})
    assert another.status_code == 200
    assert len([i for i in ctx.outbox.recent() if i.key.startswith("voicemail:")]) == 2
    assert client.post("/voice/twilio/voicemail", data=recorded,
                       headers={"X-Twilio-Signature": "nope"}).status_code == 403


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        fake.add_number(NUMBER, voice_url=WEBHOOK)
        yield fake


def adapter(twilio: FakeTwilio, token: str = TOKEN, timeout: float = 15.0) -> TwilioRouting:
    return TwilioRouting(routes=in_memory_repositories().routes, account_sid=SID,
                         auth_token=token, webhook_url=WEBHOOK, api_base=twilio.url,
                         timeout=timeout)


def test_check_reads_twilio_and_switch_is_a_route_change(twilio: FakeTwilio) -> None:
    repos = in_memory_repositories()
    calls = TwilioRouting(routes=repos.routes, account_sid=SID, auth_token=TOKEN,
                          webhook_url=WEBHOOK, api_base=twilio.url)
    assert calls.check(osc=OSC, backup=BACKUP) == []
    unknown = OSC.model_copy(update={"routing_ids": {"twilio_number": "+15125550000"}})
    assert "not a number in this Twilio account" in calls.check(osc=unknown, backup=BACKUP)[0]
    after = calls.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert after.target == "jordan@rh.example"
    calls.restore(osc=OSC, snapshot=calls.read(osc=OSC).__class__("calls", OSC.email))
    assert repos.routes.get(osc_email=OSC.email, channel="calls") is None
    no_phone = BACKUP.model_copy(update={"phone": None})
    with pytest.raises(RoutingError, match="no phone number"):
        calls.switch(osc=OSC, backup=no_phone, mode=CoverageMode.SHORT_TERM)
    assert twilio.writes() == []


@pytest.mark.parametrize(("fields", "app", "problem"), [
    ({"voice_url": "https://other.example/voice"}, None,
     "+15125559000's voice URL sends calls to https://other.example/voice, not to oscbot"),
    ({"voice_method": "GET"}, None,
     "+15125559000's voice URL is called with GET; oscbot's voice webhook takes POST"),
    ({"voice_application_sid": "AP1"}, {"voice_url": "https://ivr.example/answer"},
     "the TwiML app AP1 that answers +15125559000 sends calls to https://ivr.example/answer"),
    ({"voice_application_sid": "AP1"}, {"voice_url": WEBHOOK, "voice_method": "GET"},
     "the TwiML app AP1 that answers +15125559000 is called with GET"),
    ({"voice_application_sid": "AP1"}, {"voice_url": WEBHOOK}, None),
    ({"trunk_sid": "TK1"}, None, "+15125559000 belongs to the SIP trunk TK1, so Twilio "
                                 "ignores its voice URL"),
    ({"voice_receive_mode": "fax"}, None, "+15125559000 receives faxes, not calls"),
])
def test_the_drill_looks_where_twilio_really_sends_the_calls(
        twilio: FakeTwilio, fields: dict[str, str], app: dict[str, str] | None,
        problem: str | None) -> None:
    twilio.add_number(NUMBER, **{"voice_url": WEBHOOK, **fields})
    if app is not None:
        twilio.add_application("AP1", **app)
    found = adapter(twilio).check(osc=OSC, backup=BACKUP)
    assert found == [] if problem is None else problem in found[0]


def test_refusals_and_network_failures_are_problems_not_crashes(twilio: FakeTwilio) -> None:
    refused = adapter(twilio, token="wrong").check(osc=OSC, backup=BACKUP)
    assert refused == ["Twilio refused the credentials (check TWILIO_ACCOUNT_SID and "
                       "TWILIO_AUTH_TOKEN) while looking up +15125559000"]
    twilio.fail_next(500)
    assert "answered HTTP 500" in adapter(twilio).check(osc=OSC, backup=BACKUP)[0]
    closed = TwilioRouting(routes=in_memory_repositories().routes, account_sid=SID,
                           auth_token=TOKEN, webhook_url=WEBHOOK, api_base="http://127.0.0.1:9")
    assert closed.check(osc=OSC, backup=BACKUP) == [
        "Twilio unreachable while looking up +15125559000 (ConnectionError)"]


class SlowTwilio(FakeTwilio):
    """Twilio that takes two seconds to answer."""

    def answer(self, request: Request) -> Reply:
        time.sleep(2)
        return super().answer(request)


def test_a_hung_twilio_times_out() -> None:
    with SlowTwilio(account_sid=SID, auth_token=TOKEN) as slow:
        started = time.monotonic()
        problems = adapter(slow, timeout=0.3).check(osc=OSC, backup=BACKUP)
    assert problems == ["Twilio unreachable while looking up +15125559000 (ReadTimeout)"]
    assert time.monotonic() - started < 1.5


def test_the_webhook_the_drill_checks_is_the_one_signatures_are_checked_against(
        twilio: FakeTwilio) -> None:
    repos = in_memory_repositories()
    setup = RoutingSetup(channel="calls", settings={"base_url": twilio.url}, routes=repos.routes,
                         moves=repos.moves,
                         clock=FixedClock(T0), graph=lambda: None,
                         env={"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
                              "OSCBOT_PUBLIC_URL": PUBLIC + "/"})
    calls = build(setup)
    assert calls is not None
    assert calls.check(osc=OSC, backup=BACKUP) == []
    without = build(RoutingSetup(**{**setup.__dict__, "env": {
        "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN}}))
    assert without is not None
    assert without.check(osc=OSC, backup=BACKUP) == [
        "OSCBOT_PUBLIC_URL is not set: Twilio has no webhook to call"]
