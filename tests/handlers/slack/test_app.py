"""The real Bolt app over HTTP on loopback, with signed Slack payloads and a fake Web API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.fakes.clock import FixedClock
from bot.leads.service import NewLead
from bot.model import CoverageStatus, LeadStatus
from bot.ports.repositories import Repositories
from handlers.http.app import create_app
from handlers.slack.app import build_slack_app
from handlers.slack.chat import SlackChat
from handlers.wiring import build_context
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.processes import ServedApp

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
USERS = {"UMARIA": "maria@rh.example", "UJORDAN": "jordan@rh.example",
         "USAM": "sam@rh.example", "UDANA": "dana@rh.example", "UOUT": "stranger@else.example"}


class Server(ServedApp):
    """The app served over loopback HTTP; `with Server(app) as base` gives its URL."""


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for user_id, email in USERS.items():
            fake.add_user(email, user_id)
        yield fake


@pytest.fixture
def ctx(config: AppConfig, slack: FakeSlack, repos: Repositories) -> AppContext:
    chat = SlackChat(token=TOKEN, api_url=slack.url, names={p.email: p.name
                                                           for p in config.people})
    return build_context(config=config, repos=repos, clock=FixedClock(T0),
                         chat=chat, sources={}, sleep=lambda _: None)


@pytest.fixture
def base(ctx: AppContext, slack: FakeSlack) -> Iterator[str]:
    app = build_slack_app(ctx, token=TOKEN, signing_secret=SECRET, api_url=slack.url)
    with Server(create_app(ctx, lead_secret=None, slack=app)) as url:
        yield url


def signed(body: str, *, secret: str = SECRET, age: int = 0,
           content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    stamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest(),
            "Content-Type": content_type}


def command(base: str, name: str, user: str, text: str = "", **extra: str) -> httpx.Response:
    body = urlencode({"token": "legacy", "team_id": "T1", "team_domain": "riverside",
                      "channel_id": "C1", "channel_name": "online-sales", "user_id": user,
                      "user_name": user.lower(), "command": name, "text": text,
                      "api_app_id": "A1", "response_url": "https://hooks.slack.com/x",
                      "trigger_id": "13345224609.738474920.8088930838d88f008e0", **extra})
    return httpx.post(f"{base}/slack/events", content=body, headers=signed(body), timeout=10)


def interactive(base: str, payload: dict[str, Any]) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload)})
    return httpx.post(f"{base}/slack/events", content=body, headers=signed(body), timeout=10)


def said(answer: httpx.Response) -> str:
    """What an ack showed the person: a plain text body, or the JSON message's text."""
    if answer.headers.get("content-type", "").startswith("application/json"):
        return json.dumps(answer.json(), ensure_ascii=False)
    return answer.text


def wait_for(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def leave_form(base: str, start: str, end: str, *, backup: str | None = None,
               notes: str = "") -> httpx.Response:
    """Maria submits the leave form for herself (vacation), as Slack posts it."""
    state = {"start": {"value": {"type": "datepicker", "selected_date": start}},
             "end": {"value": {"type": "datepicker", "selected_date": end}},
             "kind": {"value": {"type": "static_select",
                                "selected_option": {"value": "vacation"}}},
             "backup": {"value": {"type": "static_select", "selected_option":
                                  {"value": backup} if backup else None}},
             "notes": {"value": {"type": "plain_text_input", "value": notes}},
             "emergency": {"value": {"type": "checkboxes", "selected_options": []}}}
    return interactive(base, {"type": "view_submission", "team": {"id": "T1"},
                              "user": {"id": "UMARIA"}, "api_app_id": "A1",
                              "view": {"id": "V1", "type": "modal", "team_id": "T1",
                                       "callback_id": "going_on_leave",
                                       "private_metadata": "maria@rh.example",
                                       "state": {"values": state}}})


def said_later(slack: FakeSlack, url: str) -> str:
    """What a command showed the person after its ack: the one answer its response_url
    took (ephemeral, as an answer in the ack is), as JSON text."""
    wait_for(lambda: slack.responses(url))
    [answer] = slack.responses(url)
    assert answer["response_type"] == "ephemeral"
    return json.dumps(answer, ensure_ascii=False)


def test_bad_signature_and_stale_timestamp_are_rejected(base: str) -> None:
    body = urlencode({"command": "/coverage", "user_id": "UMARIA", "text": ""})
    assert httpx.post(f"{base}/slack/events", content=body,
                      headers=signed(body, secret="wrong")).status_code == 401
    assert httpx.post(f"{base}/slack/events", content=body,
                      headers=signed(body, age=6 * 60)).status_code == 401


def test_coverage_command_answers_ephemerally(base: str, ctx: AppContext) -> None:
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0 + timedelta(days=1),
                         end=T0 + timedelta(days=3), kind=ctx_kind("vacation"),
                         actor="maria@rh.example")
    answer = command(base, "/coverage", "USAM")
    assert answer.status_code == 200
    assert "Maria — planned" in json.dumps(answer.json(), ensure_ascii=False)
    stranger = command(base, "/coverage", "UOUT")
    assert "not on the team" in stranger.text


def test_going_on_leave_opens_a_modal_and_submission_plans_coverage(
        base: str, ctx: AppContext, slack: FakeSlack, repos: Repositories) -> None:
    assert command(base, "/going-on-leave", "UMARIA").status_code == 200
    wait_for(lambda: slack.calls("views.open"))
    [opened] = slack.calls("views.open")
    assert opened["trigger_id"].startswith("13345224609")
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    labels = json.dumps(view, ensure_ascii=False)
    assert "Jordan — available" in labels

    def submit(start: str, end: str, backup: str | None = None) -> httpx.Response:
        return leave_form(base, start, end, backup=backup, notes="Cabo")

    bad = submit("2026-12-05", "2026-12-01")
    assert bad.json() == {"response_action": "errors",
                          "errors": {"end": "The last day is before the first day."}}
    # Priya backs up Alex, not Maria: refused in the form, before anything is planned.
    unlisted = submit("2026-12-01", "2026-12-05", backup="priya@rh.example")
    assert unlisted.json()["errors"] == {"backup": "Priya is not one of Maria's backups "
                                                   "(Jordan, Sam)"}
    assert submit("2026-12-01", "2026-12-05").status_code == 200
    # The same submission delivered again plans nothing more and says nothing more.
    again = submit("2026-12-01", "2026-12-05")
    assert again.status_code == 200 and not again.content
    [coverage] = repos.coverages.list(osc_email="maria@rh.example")
    assert coverage.status is CoverageStatus.PLANNED and coverage.notes == "Cabo"
    wait_for(lambda: any("Coverage planned" in c["text"]
                         for c in slack.calls("chat.postMessage")))
    time.sleep(0.2)
    assert sum("Coverage planned" in c["text"] for c in slack.calls("chat.postMessage")) == 1
    # A form the service refuses is not remembered: sent again, it is answered again.
    overlapping = submit("2026-12-03", "2026-12-08")
    assert overlapping.json()["response_action"] == "errors"
    assert submit("2026-12-03", "2026-12-08").json() == overlapping.json()


def test_lead_button_by_the_responsible_person_logs_contact(
        base: str, ctx: AppContext, slack: FakeSlack, repos: Repositories) -> None:
    lead, _ = ctx.leads.receive(NewLead(source="web", external_id="1", name="Pat",
                                        email="pat@example.com", phone=None,
                                        community="Riverside", message="", received_at=T0))

    def click(user: str, stamp: str) -> httpx.Response:
        return interactive(base, {
            "type": "block_actions", "team": {"id": "T1"}, "user": {"id": user},
            "api_app_id": "A1", "channel": {"id": "DUMARIA"}, "trigger_id": "1.2.3",
            "container": {"type": "message", "message_ts": "1.1"},
            "response_url": "https://hooks.slack.com/actions/x",
            "actions": [{"action_id": "lead_called#0", "block_id": "b", "value": str(lead.id),
                         "type": "button", "action_ts": stamp}]})

    assert click("USAM", "1.2").status_code == 200
    wait_for(lambda: slack.calls("chat.postEphemeral"))
    assert "only they or a manager" in slack.calls("chat.postEphemeral")[0]["text"]
    assert repos.leads.get(lead.id or 0).status is LeadStatus.NEW
    click("UMARIA", "1.3")
    wait_for(lambda: repos.leads.get(lead.id or 0).status is LeadStatus.CONTACTED)
    click("UMARIA", "1.4")
    wait_for(lambda: len(slack.calls("chat.postEphemeral")) == 3)
    assert len(repos.activities.for_lead(lead.id or 0)) == 2


def test_a_press_delivered_twice_takes_effect_once(
        base: str, ctx: AppContext, slack: FakeSlack, repos: Repositories) -> None:
    lead, _ = ctx.leads.receive(NewLead(source="web", external_id="1", name="Pat",
                                        email="pat@example.com", phone=None,
                                        community="Riverside", message="", received_at=T0))
    press = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "UMARIA"},
             "api_app_id": "A1", "channel": {"id": "DUMARIA"}, "trigger_id": "1.2.3",
             "container": {"type": "message", "message_ts": "1.1"},
             "response_url": "https://hooks.slack.com/actions/x",
             "actions": [{"action_id": "lead_called#0", "block_id": "b",
                          "value": str(lead.id), "type": "button", "action_ts": "7.7"}]}
    assert interactive(base, press).status_code == 200
    # The same press again (a resend): acknowledged, and nothing done a second time.
    assert interactive(base, press).status_code == 200
    wait_for(lambda: slack.calls("chat.postEphemeral"))
    time.sleep(0.2)
    assert len(repos.activities.for_lead(lead.id or 0)) == 1
    assert len(slack.calls("chat.postEphemeral")) == 1


def test_app_home_and_event_retries_are_handled_once(base: str, slack: FakeSlack) -> None:
    event = {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
             "event_id": "Ev01", "event_time": 1, "event": {
                 "type": "app_home_opened", "user": "UJORDAN", "channel": "D1", "tab": "home"}}
    body = json.dumps(event)
    headers = signed(body, content_type="application/json")
    assert httpx.post(f"{base}/slack/events", content=body, headers=headers).status_code == 200
    retry = {**signed(body, content_type="application/json"), "X-Slack-Retry-Num": "1",
             "X-Slack-Retry-Reason": "http_timeout"}
    assert httpx.post(f"{base}/slack/events", content=body, headers=retry).status_code == 200
    wait_for(lambda: slack.calls("views.publish"))
    time.sleep(0.2)
    [published] = slack.calls("views.publish")
    assert published["user_id"] == "UJORDAN"
    assert "Your status" in json.dumps(published["view"], ensure_ascii=False)


def ctx_kind(value: str) -> Any:
    from bot.model import AbsenceKind

    return AbsenceKind(value)


def test_complete_going_on_leave_is_filed_at_once_with_mentions(
        base: str, ctx: AppContext, slack: FakeSlack, repos: Repositories) -> None:
    url = slack.response_url()
    answer = command(base, "/going-on-leave", "UDANA",
                     "2026-12-01 2026-12-04 vacation for <@UMARIA|maria> backup:<@USAM|sam>",
                     response_url=url)
    assert answer.status_code == 200
    assert "Coverage planned for Maria" in said_later(slack, url)
    [coverage] = repos.coverages.list(osc_email="maria@rh.example")
    assert coverage.backup_email == "sam@rh.example"
    assert coverage.declared_by == "dana@rh.example"
    assert not slack.calls("views.open")


def test_partial_going_on_leave_opens_a_prefilled_form(base: str, slack: FakeSlack) -> None:
    assert command(base, "/going-on-leave", "UMARIA",
                   "2026-12-07 sick backup:jordan").status_code == 200
    wait_for(lambda: slack.calls("views.open"))
    view = slack.calls("views.open")[0]["view"]
    blocks = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert blocks["start"]["initial_date"] == blocks["end"]["initial_date"] == "2026-12-07"
    assert blocks["kind"]["initial_option"]["value"] == "sick"
    assert blocks["backup"]["initial_option"]["value"] == "jordan@rh.example"
    url = slack.response_url()
    command(base, "/going-on-leave", "UMARIA", "2026-12-07 2026-12-01", response_url=url)
    assert "before the first" in said_later(slack, url)
    assert len(slack.calls("views.open")) == 1


def test_manager_changing_who_is_away_redraws_the_backups(base: str, slack: FakeSlack) -> None:
    command(base, "/going-on-leave", "UDANA")
    wait_for(lambda: slack.calls("views.open"))
    view = slack.calls("views.open")[0]["view"]
    osc_block = next(b for b in view["blocks"] if b["block_id"] == "osc")
    assert osc_block["dispatch_action"] is True
    interactive(base, {
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "UDANA"},
        "api_app_id": "A1", "trigger_id": "1.2.3", "container": {"type": "view"},
        "view": {**view, "id": "V1", "hash": "h1", "state": {"values": {
            "start": {"value": {"type": "datepicker", "selected_date": "2026-12-09"}}}}},
        "actions": [{"action_id": "value", "block_id": "osc", "type": "static_select",
                     "selected_option": {"value": "alex@rh.example"}, "action_ts": "1.2"}]})
    wait_for(lambda: slack.calls("views.update"))
    [update] = slack.calls("views.update")
    assert update["view_id"] == "V1" and update["hash"] == "h1"
    blocks = {b["block_id"]: b for b in update["view"]["blocks"]}
    options = [o["value"] for o in blocks["backup"]["element"]["options"]]
    assert options == ["sam@rh.example", "priya@rh.example"]
    assert blocks["start"]["element"]["initial_date"] == "2026-12-09"


def test_commands_take_mentions_names_and_emails(base: str, ctx: AppContext,
                                                 slack: FakeSlack) -> None:
    def calendar(text: str) -> str:
        url = slack.response_url()
        command(base, "/oscbot", "UDANA", text, response_url=url)
        return said_later(slack, url)

    by_mention = calendar("calendar <@UJORDAN|jordan>")
    by_name = calendar("calendar Jordan")
    by_email = calendar("calendar <mailto:jordan@rh.example|jordan@rh.example>")
    for answer in (by_mention, by_name, by_email):
        assert "Lead calendar of Jordan" in answer, answer
    nobody = calendar("calendar Zed")
    assert "nobody on the team is called 'Zed'" in nobody


def test_a_stranger_is_told_how_to_fix_it_and_looked_up_again(
        base: str, slack: FakeSlack) -> None:
    first = said(command(base, "/coverage", "UOUT"))
    assert first == ("Sorry — stranger@else.example is not on the team in app.yaml. Ask your "
                     "admin to add you under people: (or put chat: {slack: UOUT} on your "
                     "entry), then try again.")
    slack.users["UNOMAIL"] = {"id": "UNOMAIL", "name": "x", "profile": {}}
    no_email = said(command(base, "/coverage", "UNOMAIL"))
    assert "no email" in no_email and "chat: {slack: UNOMAIL}" in no_email
    command(base, "/coverage", "UNOMAIL")
    asked = [c for c in slack.calls("users.info") if c.get("user") == "UNOMAIL"]
    assert len(asked) == 2  # not remembered: the admin may fix it meanwhile
