"""A lead that tries to ping the channel and disguise a link reaches every Slack message
it appears in as plain, escaped text."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.context import AppContext
from bot.fakes.clock import FixedClock
from bot.leads.service import NewLead
from bot.model import AbsenceKind
from bot.ports.records import Page
from handlers.slack.blocks import render_view
from handlers.slack.views import home_view
from tests.fakes.slack_api import TEAM_CHANNEL, FakeSlack
from tests.fakes.slack_rules import check_view
from tests.handlers.slack import test_app as shared
from tests.handlers.slack.test_app import T0

NAME = "<!channel> Eve"
MESSAGE = "<https://evil.example|claim your prize> & more"
SAFE_NAME = "&lt;!channel&gt; Eve"
SAFE_MESSAGE = "&lt;https://evil.example|claim your prize&gt; &amp; more"
# The Slack app tests' fake Web API (with the team's users) and context.
slack, ctx = shared.slack, shared.ctx


def _texts(call: dict[str, object]) -> list[str]:
    """Every text Slack would show from one chat.postMessage: fallback, blocks, fields."""
    texts = [str(call["text"])]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(call.get("blocks"))
    return texts


def test_injection_lead_is_escaped_in_every_message(ctx: AppContext, slack: FakeSlack) -> None:
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    lead, _ = ctx.leads.receive(NewLead(
        source="website", external_id="x-1", name=NAME, email="eve@example.com", phone=None,
        community="Riverside", message=MESSAGE, received_at=T0))
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0, end=T0 + timedelta(days=2),
                         kind=AbsenceKind.SICK, actor="maria@rh.example", emergency=True,
                         notes="<!here> back Wed")
    for minutes in (6, 16):
        clock.set(T0 + timedelta(minutes=minutes))
        ctx.leads.sweep()
        ctx.delivery.deliver_due(clock.now())
    clock.set(T0 + timedelta(hours=2))
    ctx.coverage.im_back(osc_email="maria@rh.example", actor="maria@rh.example")
    ctx.coverage.tick()
    ctx.delivery.deliver_due(clock.now())

    posts = slack.calls("chat.postMessage") + slack.calls("chat.update")
    reached = [call for call in posts if any("!channel" in t for t in _texts(call))]
    headers = {json.dumps(call["blocks"][0]["text"]["text"]) if call.get("blocks") else ""
               for call in reached}
    # The lead DM, the channel alert, the escalation, the brief, the return list.
    assert any("New lead" in h for h in headers)
    assert any("Lead waiting" in h for h in headers)
    assert any("Escalation" in h for h in headers)
    assert any("is out" in h for h in headers)
    assert any("Welcome back" in h for h in headers)
    for call in posts:
        for text in _texts(call):
            assert "<!channel>" not in text and "<https://evil" not in text, text
            assert "<!here>" not in text, text
            if "!channel" in text:
                assert SAFE_NAME in text, text
    alert = next(c for c in reached if "Lead waiting" in c["blocks"][0]["text"]["text"])
    lead_section = alert["blocks"][2]["text"]["text"]
    assert lead_section == f"*{SAFE_NAME}* via website\n> {SAFE_MESSAGE}"
    dm = next(c for c in reached if c["channel"] == "DUMARIA" and "New lead" in c["text"])
    assert dm["text"] == f"New lead: {SAFE_NAME} — contact within 5 minutes."

    home = home_view(config=ctx.config, email="dana@rh.example", now=clock.now(),
                     coverages=ctx.coverage.open_coverages(),
                     leads=Page(items=(lead,), total=1), tasks=Page(items=(), total=0))
    check_view(home)  # Slack would accept it
    shown = json.dumps(home, ensure_ascii=False)
    assert SAFE_NAME in shown and "<!channel>" not in shown


def test_long_lead_messages_are_cut_in_channel_posts_but_whole_in_the_dm(
        ctx: AppContext, slack: FakeSlack) -> None:
    long = "I would like to know " + "a lot " * 200
    ctx.leads.receive(NewLead(source="website", external_id="x-2", name="Pat",
                              email="pat@example.com", phone=None, community="Riverside",
                              message=long, received_at=T0))
    ctx.clock.set(T0 + timedelta(minutes=6))  # type: ignore[attr-defined]
    ctx.leads.sweep()
    ctx.delivery.deliver_due(ctx.clock.now())
    [alert] = slack.posts(TEAM_CHANNEL)
    quoted = alert["blocks"][2]["text"]["text"].split("\n> ", 1)[1]
    assert len(quoted) == 500 and quoted.endswith("…")
    dm = next(c for c in slack.calls("chat.postMessage") if c["channel"] == "DUMARIA")
    assert long.strip() in dm["blocks"][1]["text"]["text"]


def test_views_render_outside_text_escaped() -> None:
    from bot.messages import Message, Section, outside

    blocks = render_view(Message("x", (Section(f"Hi {outside('<@U1> & co')}"),)),
                         user_id_for=lambda e: None, name_for=str)
    assert blocks[0]["text"]["text"] == "Hi &lt;@U1&gt; &amp; co"
