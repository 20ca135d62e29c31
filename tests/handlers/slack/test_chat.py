"""SlackChat and outbox delivery against the local fake Slack Web API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery import OutboxDelivery
from bot.errors import ChatError
from bot.fakes import FixedClock, InMemoryOutbox
from bot.messages import ActionId, Actions, Bullets, Button, Header, Message, Section
from bot.services.notify import Notifier
from handlers.slack.blocks import render
from handlers.slack.chat import SlackChat
from tests.fakes.slack_api import TOKEN, FakeSlack

NAMES = {"jordan@rh.example": "Jordan Kim", "dana@rh.example": "Dana Brooks"}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user("jordan@rh.example", "UJORDAN", "Jordan Kim")
        yield fake


def chat(slack: FakeSlack, token: str = TOKEN,
         monotonic: Callable[[], float] = time.monotonic) -> SlackChat:
    return SlackChat(token=token, api_url=slack.url, names=NAMES, monotonic=monotonic)


def test_post_dm_and_update_send_the_right_calls(slack: FakeSlack) -> None:
    port = chat(slack)
    message = Message(text="Lead for <@jordan@rh.example>", blocks=(
        Header("New lead"), Section("<@jordan@rh.example> and <@dana@rh.example>"),
        Actions((Button(ActionId.LEAD_CALLED, "Called", "7", "primary"),))))
    ref = port.post(channel="#online-sales", message=message)
    [posted] = slack.calls("chat.postMessage")
    assert posted["channel"] == "#online-sales"
    assert posted["text"] == "Lead for <@UJORDAN>"
    assert posted["blocks"][1]["text"]["text"] == "<@UJORDAN> and *Dana Brooks*"
    assert posted["blocks"][2]["elements"][0] == {
        "type": "button", "action_id": "lead_called", "value": "7", "style": "primary",
        "text": {"type": "plain_text", "text": "Called"}}
    port.direct(email="jordan@rh.example", message=Message("hi"))
    port.direct(email="jordan@rh.example", message=Message("again"))
    assert len(slack.calls("users.lookupByEmail")) == 2  # jordan once, dana once
    assert slack.calls("conversations.open") == [{"users": "UJORDAN"}]
    assert slack.calls("chat.postMessage")[-1]["channel"] == "DUJORDAN"
    port.update(ref=ref, message=Message("edited"))
    assert slack.calls("chat.update") == [{"channel": "#online-sales", "ts": ref.id,
                                           "text": "edited", "blocks": []}]


def test_errors_become_chat_errors(slack: FakeSlack) -> None:
    port = chat(slack)
    slack.fail_next("chat.postMessage", 429, retry_after=7)
    with pytest.raises(ChatError) as limited:
        port.post(channel="#s", message=Message("x"))
    assert limited.value.transient and limited.value.retry_after == 7
    attempts = slack.attempts("chat.postMessage")
    with pytest.raises(ChatError, match="rate limit") as waiting:
        port.post(channel="#s", message=Message("x"))
    assert slack.attempts("chat.postMessage") == attempts  # waited out locally, per method
    assert 0 < waiting.value.retry_after <= 7
    port = chat(slack)
    slack.fail_next("chat.postMessage", 500)
    with pytest.raises(ChatError) as down:
        port.post(channel="#s", message=Message("x"))
    assert down.value.transient and down.value.maybe_sent
    with pytest.raises(ChatError, match="SLACK_BOT_TOKEN") as bad:
        chat(slack, token="xoxb-wrong").post(channel="#s", message=Message("x"))
    assert not bad.value.transient
    with pytest.raises(ChatError, match="no Slack account found for a person"):
        port.direct(email="ghost@rh.example", message=Message("x"))


def test_limits_fallback_and_splitting() -> None:
    long = "line\n" * 1000
    message = Message(text="", blocks=(*(Bullets(f"T{n}", ("x",)) for n in range(60)),
                                       Section(long)))
    text, blocks = render(message, user_id_for=lambda e: None, name_for=str)
    assert text == "oscbot"
    assert len(blocks) == 50 and "more parts not shown" in str(blocks[-1])
    _, split = render(Message("t", (Section(long),)), user_id_for=lambda e: None,
                      name_for=str)
    assert len(split) == 2 and all(len(b["text"]["text"]) <= 3000 for b in split)


def test_burst_under_429s_arrives_once_each_in_order_a_second_apart(slack: FakeSlack) -> None:
    clock = FixedClock(datetime(2026, 12, 1, 16, tzinfo=UTC))
    outbox = InMemoryOutbox()
    notifier = Notifier(outbox=outbox, clock=clock, channel="#online-sales")
    port = chat(slack, monotonic=lambda: clock.now().timestamp())
    delivery = OutboxDelivery(outbox=outbox, chat=port, clock=clock)
    for n in range(100):
        notifier.post(key=f"alert:{n}", message=Message(f"alert {n}"))
    for tick in range(300):
        if tick % 5 == 0:
            slack.fail_next("chat.postMessage", 429, retry_after=2)
        delivery.deliver_due()
        clock.advance(timedelta(seconds=1))
    delivered = [c["text"] for c in slack.calls("chat.postMessage")]
    assert delivered == [f"alert {n}" for n in range(100)]
    assert slack.attempts("chat.postMessage") > 100


def test_chart_upload_uses_the_external_upload_flow(slack: FakeSlack) -> None:
    ref = chat(slack).upload(channel="C0123", filename="digest.png",
                             content=b"\x89PNG fake chart", title="Speed to lead")
    assert ref.id == "F1"
    assert slack.calls("files.getUploadURLExternal")[0]["filename"] == "digest.png"
    assert slack.uploaded and slack.uploaded[0] > 0
    complete = slack.calls("files.completeUploadExternal")[0]
    assert complete["channel_id"] == "C0123"


def test_outbox_key_rides_as_metadata_and_is_found_in_history(slack: FakeSlack) -> None:
    port = chat(slack)
    before = datetime.now(UTC) - timedelta(seconds=1)
    ref = port.post(channel="C1", message=Message("lead"), key="lead-card:7")
    port.direct(email="jordan@rh.example", message=Message("dm"), key="brief-dm:3")
    posted = slack.calls("chat.postMessage")[0]
    assert posted["metadata"] == {"event_type": "oscbot_outbox",
                                  "event_payload": {"key": "lead-card:7"}}
    assert port.find_sent(key="lead-card:7", channel="C1", since=before) == ref
    assert port.find_sent(key="lead-card:8", channel="C1", since=before) is None
    assert port.find_sent(key="lead-card:7", channel="C1",
                          since=datetime.now(UTC) + timedelta(seconds=1)) is None
    found = port.find_sent(key="brief-dm:3", email="jordan@rh.example", since=before)
    assert found is not None and found.channel == "DUJORDAN"
    history = slack.calls("conversations.history")[0]
    assert history["include_all_metadata"] == "true" and history["channel"] == "C1"
    plain = slack._history({"channel": "C1"})["messages"][0]
    assert "metadata" not in plain  # Slack shows metadata only when asked


def test_find_sent_pages_through_a_busy_channel(slack: FakeSlack) -> None:
    port = chat(slack)
    before = datetime.now(UTC) - timedelta(seconds=1)
    port.post(channel="C2", message=Message("first"), key="wanted")
    for n in range(450):
        port.post(channel="C2", message=Message(f"n{n}"), key=f"other:{n}")
    assert port.find_sent(key="wanted", channel="C2", since=before) is not None
    assert len(slack.calls("conversations.history")) == 3


def test_a_person_missing_from_slack_is_found_once_they_join(slack: FakeSlack) -> None:
    now = [1000.0]
    port = chat(slack, monotonic=lambda: now[0])
    assert port.user_id("newhire@rh.example") is None
    slack.add_user("newhire@rh.example", "UNEW")
    assert port.user_id("newhire@rh.example") == "UNEW"  # the miss was not kept
    calls = len(slack.calls("users.lookupByEmail"))
    assert port.user_id("newhire@rh.example") == "UNEW"
    assert len(slack.calls("users.lookupByEmail")) == calls  # cached...
    now[0] += 3601
    port.user_id("newhire@rh.example")
    assert len(slack.calls("users.lookupByEmail")) == calls + 1  # ...for an hour
