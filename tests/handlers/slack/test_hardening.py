"""Slack interactions under hostile or mistaken input, over real HTTP: claims follow
coverage eligibility; a forged leave form gets an inline error, not a 500."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from bot.context import AppContext
from bot.leads.service import NewLead
from bot.model import Absence, AbsenceKind
from bot.ports.calendars import CalendarSyncState
from bot.ports.repositories import Repositories
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slack import test_app as shared
from tests.handlers.slack.test_app import T0, interactive, signed, wait_for

# The Bolt app over loopback HTTP with a fake Slack Web API, as the app tests use it.
slack, ctx, base = shared.slack, shared.ctx, shared.base


def claim(base: str, user: str, lead_id: int) -> httpx.Response:
    return interactive(base, {
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": user},
        "api_app_id": "A1", "channel": {"id": "C0SALES01"}, "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": "1.1"},
        "response_url": "https://hooks.slack.com/actions/x",
        "actions": [{"action_id": "lead_claim", "block_id": "b", "value": str(lead_id),
                     "type": "button", "action_ts": "1.2"}]})


def replies(slack: FakeSlack, user: str) -> list[str]:
    return [c["text"] for c in slack.calls("chat.postEphemeral") if c["user"] == user]


def test_only_eligible_people_or_a_manager_claim_from_the_alert(
        base: str, ctx: AppContext, slack: FakeSlack, repos: Repositories) -> None:
    lead, _ = ctx.leads.receive(NewLead(source="web", external_id="c-1", name="Pat",
                                        email="pat@example.com", phone=None,
                                        community="Riverside", message="", received_at=T0))
    assert lead.id is not None
    slack.add_user("priya@rh.example", "UPRIYA")
    # Sam is trained and shadowed but on vacation per his calendar.
    repos.calendar_sync.save(CalendarSyncState(
        osc_email="sam@rh.example", cursor={}, last_good_at=T0, absences=(Absence(
            start=T0 - timedelta(days=1), end=T0 + timedelta(days=3),
            kind=AbsenceKind.VACATION),)))

    for user, words in (("UPRIYA", "has not shadowed the OSC yet"),
                        ("USAM", "is away during the absence"),
                        ("UOUT", "not on the team")):
        assert claim(base, user, lead.id).status_code == 200
        wait_for(lambda user=user: replies(slack, user))  # type: ignore[misc]
        assert words in replies(slack, user)[0]
        assert repos.leads.get(lead.id).assigned_to == "maria@rh.example"

    claim(base, "UJORDAN", lead.id)
    wait_for(lambda: repos.leads.get(lead.id or 0).assigned_to == "jordan@rh.example")
    claim(base, "UDANA", lead.id)  # the manager's explicit choice
    wait_for(lambda: repos.leads.get(lead.id or 0).assigned_to == "dana@rh.example")
    assert [e.reason for e in repos.audit.list(subject=f"lead:{lead.id}")
            if e.action == "lead.claimed"] == ["claimed by jordan@rh.example",
                                              "claimed by dana@rh.example"]


def test_a_signed_leave_form_with_an_unknown_kind_gets_an_inline_error(
        base: str, ctx: AppContext, repos: Repositories) -> None:
    state = {"start": {"value": {"type": "datepicker", "selected_date": "2026-12-01"}},
             "end": {"value": {"type": "datepicker", "selected_date": "2026-12-04"}},
             "kind": {"value": {"type": "static_select",
                                "selected_option": {"value": "bogus"}}}}
    answer = interactive(base, {"type": "view_submission", "team": {"id": "T1"},
                                "user": {"id": "UMARIA"}, "api_app_id": "A1",
                                "view": {"id": "V1", "type": "modal", "team_id": "T1",
                                         "callback_id": "going_on_leave",
                                         "private_metadata": "maria@rh.example",
                                         "state": {"values": state}}})
    assert answer.status_code == 200
    assert answer.json() == {"response_action": "errors",
                             "errors": {"kind": "Pick one of the kinds in the list."}}
    assert repos.coverages.list() == []


def test_a_mention_slack_will_not_let_us_answer_is_acknowledged_not_retried(
        base: str, slack: FakeSlack) -> None:
    # A mention from a conversation oscbot cannot post in: Slack refuses the reply for
    # good, so a 5xx would only make Slack send the same event again and again.
    body = json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                       "event_id": "Ev0MENTION1", "event_time": 1_700_000_000,
                       "event": {"type": "app_mention", "user": "UMARIA", "text": "<@UBOT>",
                                 "ts": "1700000000.000100", "channel": "CGONE"}})
    answer = httpx.post(f"{base}/slack/events", content=body, timeout=10,
                        headers=signed(body, content_type="application/json"))
    assert answer.status_code == 200
    wait_for(lambda: ("chat.postMessage", "channel_not_found", []) in slack.refused)
