"""SlackChat and outbox delivery against the local fake Slack Web API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.errors import ChatError
from bot.fakes.clock import FixedClock
from bot.fakes.delivery import InMemoryOutbox
from bot.messages import ActionId, Actions, Bullets, Button, Header, Message, Section
from handlers.slack.blocks import action_pattern, render
from handlers.slack.chat import SlackChat, refusal
from tests.fakes.slack_api import TEAM_CHANNEL, TOKEN, FakeSlack

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
    assert posted["channel"] == TEAM_CHANNEL  # the name was resolved to the id once
    assert posted["text"] == "Lead for <@UJORDAN>"
    assert posted["blocks"][1]["text"]["text"] == "<@UJORDAN> and *Dana Brooks*"
    assert posted["blocks"][2]["elements"][0] == {
        "type": "button", "action_id": "lead_called#0", "value": "7", "style": "primary",
        "text": {"type": "plain_text", "text": "Called"}}
    port.direct(email="jordan@rh.example", message=Message("hi"))
    port.direct(email="jordan@rh.example", message=Message("again"))
    assert len(slack.calls("users.lookupByEmail")) == 2  # jordan once, dana once
    assert slack.calls("conversations.open") == [{"users": "UJORDAN"}]
    assert slack.calls("chat.postMessage")[-1]["channel"] == "DUJORDAN"
    port.update(ref=ref, message=Message("edited"))
    assert slack.calls("chat.update") == [{"channel": TEAM_CHANNEL, "ts": ref.id,
                                           "text": "edited", "blocks": []}]
    assert len(slack.calls("conversations.list")) == 1


def test_errors_become_chat_errors(slack: FakeSlack) -> None:
    port = chat(slack)
    slack.fail_next("chat.postMessage", 429, retry_after=7)
    with pytest.raises(ChatError) as limited:
        port.post(channel=TEAM_CHANNEL, message=Message("x"))
    assert limited.value.transient and limited.value.retry_after == 7
    attempts = slack.attempts("chat.postMessage")
    with pytest.raises(ChatError, match="rate limit") as waiting:
        port.post(channel=TEAM_CHANNEL, message=Message("x"))
    assert slack.attempts("chat.postMessage") == attempts  # waited out locally, per method
    assert 0 < waiting.value.retry_after <= 7
    port = chat(slack)
    slack.fail_next("chat.postMessage", 500)
    with pytest.raises(ChatError) as down:
        port.post(channel=TEAM_CHANNEL, message=Message("x"))
    assert down.value.transient and down.value.maybe_sent
    with pytest.raises(ChatError, match="SLACK_BOT_TOKEN") as bad:
        chat(slack, token="xoxb-wrong").post(channel=TEAM_CHANNEL, message=Message("x"))
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
    ref = chat(slack).upload(channel="#online-sales", filename="digest.png",
                             content=b"\x89PNG fake chart", title="Speed to lead")
    assert ref.id == "F1"
    assert slack.calls("files.getUploadURLExternal")[0]["filename"] == "digest.png"
    assert slack.uploaded and slack.uploaded[0] > 0
    complete = slack.calls("files.completeUploadExternal")[0]
    assert complete["channel_id"] == TEAM_CHANNEL  # Slack takes ids only here


def test_two_routing_buttons_side_by_side_get_unique_action_ids(slack: FakeSlack) -> None:
    brief = Message(text="Maria is out", blocks=(Actions((
        Button(ActionId.ROUTING_STEP_DONE, "Calls done by hand", "4:calls", "primary"),
        Button(ActionId.ROUTING_STEP_DONE, "Email done by hand", "4:email", "primary"))),))
    chat(slack).post(channel="#online-sales", message=brief)
    [posted] = slack.posts()
    ids = [e["action_id"] for e in posted["blocks"][0]["elements"]]
    assert ids == ["routing_step_done#0", "routing_step_done#1"]
    assert all(action_pattern(ActionId.ROUTING_STEP_DONE).match(i) for i in ids)
    assert not action_pattern(ActionId.LEAD_CALLED).match("lead_called_twice")


def test_the_fake_refuses_what_slack_refuses(slack: FakeSlack) -> None:
    port = chat(slack)
    duplicate = {"type": "actions", "elements": [
        {"type": "button", "action_id": "same", "text": {"type": "plain_text", "text": t}}
        for t in ("A", "B")]}
    with pytest.raises(ChatError) as refused:
        port._call("chat.postMessage", channel=TEAM_CHANNEL, text="x", blocks=[duplicate])
    assert not refused.value.transient and refused.value.code == "invalid_blocks"
    # The cause is named, so the managers' alert can say what to fix.
    assert "must be unique [json-pointer:/blocks/0/elements/1/action_id]" in str(refused.value)
    cases = {
        "no_text": {"channel": TEAM_CHANNEL, "text": "", "blocks": []},
        "channel_not_found": {"channel": "#online-sales", "text": "x"},
    }
    for code, args in cases.items():
        with pytest.raises(ChatError) as wrong:
            port._call("chat.postMessage", **args)
        assert wrong.value.code == code and not wrong.value.transient
    long_header = Message("x", (Header("h" * 400), Section("s" * 7000)))
    port.post(channel=TEAM_CHANNEL, message=long_header)  # cut to fit, never refused
    slack.add_channel("C0ELSEWHERE", "elsewhere", member=False)
    with pytest.raises(ChatError, match="invite it with /invite @oscbot") as outside:
        port.post(channel="#elsewhere", message=Message("x"))
    assert outside.value.code == "not_in_channel"


def test_the_fake_response_url_takes_five_answers_within_thirty_minutes(
        slack: FakeSlack) -> None:
    url = slack.response_url()

    def post(body: object, content_type: str = "application/json") -> httpx.Response:
        data = body if isinstance(body, str) else json.dumps(body)
        return httpx.post(url, content=data, headers={"Content-Type": content_type})

    refused = {"no_text": {"text": ""},
               "invalid_payload": {"text": "x", "response_type": "secret"}}
    for code, body in refused.items():
        answer = post(body)
        assert (answer.status_code, answer.text) == (400, code)
    assert post({"text": "x", "channel": "C1"}).text == "invalid_payload"
    assert post({"text": "x", "replace_original": "yes"}).text == "invalid_payload"
    assert post("text=x", content_type="application/x-www-form-urlencoded").status_code == 400
    for n in range(5):
        answer = post({"text": f"answer {n}", "response_type": "ephemeral",
                       "replace_original": False})
        assert (answer.status_code, answer.text) == (200, "ok")
    assert (post({"text": "sixth"}).status_code, post({"text": "x"}).text) == (404, "used_url")
    assert [a["text"] for a in slack.responses(url)] == [f"answer {n}" for n in range(5)]
    assert httpx.post(f"{slack.base}/commands/T1/9/unknown",
                      json={"text": "x"}).status_code == 404
    late = slack.response_url()
    slack.clock = lambda: time.time() + 31 * 60
    expired = httpx.post(late, json={"text": "x"})
    assert (expired.status_code, expired.text) == (404, "expired_url")


def test_refusals_are_classified() -> None:
    ok_later = refusal("chat.postMessage", 200, {"error": "internal_error"}, {})
    assert ok_later.transient
    limited = refusal("chat.postMessage", 429, {"error": "ratelimited"}, {"Retry-After": "9"})
    assert limited.transient and limited.retry_after == 9
    assert refusal("chat.postMessage", 503, {}, {}).transient
    for code in ("invalid_blocks", "channel_not_found", "not_in_channel", "is_archived",
                 "msg_too_long", "no_text", "invalid_auth", "missing_scope"):
        assert not refusal("chat.postMessage", 200, {"error": code}, {}).transient
    scope = refusal("files.completeUploadExternal", 200,
                    {"error": "missing_scope", "needed": "files:write"}, {})
    assert "needs the files:write scope" in str(scope)


def test_team_channel_is_checked_at_start_up(slack: FakeSlack) -> None:
    assert chat(slack).channel_problem("#online-sales") is None
    slack.add_channel("C0QUIET01", "quiet", member=False)
    problem = chat(slack).channel_problem("#quiet")
    assert problem == ("oscbot is not in the team channel #quiet (C0QUIET01); invite it "
                       "there with /invite @oscbot")
    missing = chat(slack).channel_problem("#nowhere")
    assert missing is not None and "no channel #nowhere that oscbot can see" in missing


def test_a_found_person_is_kept_for_an_hour_and_a_miss_not_at_all(slack: FakeSlack) -> None:
    now = [0.0]
    port = SlackChat(token=TOKEN, api_url=slack.url, names=NAMES, monotonic=lambda: now[0])

    def lookups() -> int:
        return len([c for c in slack.calls("users.lookupByEmail")
                    if c["email"] == "new@rh.example"])

    assert port.user_id("new@rh.example") is None
    slack.add_user("new@rh.example", "UNEW", "New Hire")
    assert port.user_id("new@rh.example") == "UNEW"  # the miss was not kept
    port.direct(email="new@rh.example", message=Message("welcome"))
    assert lookups() == 2  # the hit was kept
    # The email moves to another account (a rehire): picked up once the hour is over.
    del slack.users["UNEW"]
    slack.add_user("new@rh.example", "UNEW2", "New Hire")
    now[0] += 3599
    assert port.user_id("new@rh.example") == "UNEW"
    now[0] += 2
    port.direct(email="new@rh.example", message=Message("again"))
    assert lookups() == 3
    assert [c["channel"] for c in slack.calls("chat.postMessage")] == ["DUNEW", "DUNEW2"]
    assert port.user_id("ghost@rh.example") is None
    assert port.user_id("ghost@rh.example") is None
    assert len([c for c in slack.calls_made if c.args.get("email") == "ghost@rh.example"]) == 2


def test_a_429_says_whether_it_holds_one_channel_or_every_dm(slack: FakeSlack) -> None:
    slack.add_channel("C0OAKHILL", "oak-hill")
    port = chat(slack)
    slack.fail_next("users.lookupByEmail", 429, retry_after=20)
    with pytest.raises(ChatError) as lookup:
        port.direct(email="jordan@rh.example", message=Message("x"))
    assert lookup.value.scope == "direct" and lookup.value.retry_after == 20
    slack.fail_next("chat.postMessage", 429, retry_after=3)
    with pytest.raises(ChatError) as post:
        port.post(channel=TEAM_CHANNEL, message=Message("x"))
    assert post.value.scope == "" and post.value.retry_after == 3
    port.post(channel="C0OAKHILL", message=Message("y"))  # another channel is not held
    with pytest.raises(ChatError, match="rate limit"):
        port.post(channel=TEAM_CHANNEL, message=Message("x"))  # that one waits it out


def test_outbox_key_rides_as_metadata_and_is_found_in_history(slack: FakeSlack) -> None:
    port = chat(slack)
    before = datetime.now(UTC) - timedelta(seconds=1)
    ref = port.post(channel=TEAM_CHANNEL, message=Message("lead"), key="lead-card:7")
    port.direct(email="jordan@rh.example", message=Message("dm"), key="brief-dm:3")
    posted = slack.calls("chat.postMessage")[0]
    assert posted["metadata"] == {"event_type": "oscbot_outbox",
                                  "event_payload": {"key": "lead-card:7"}}
    assert port.find_sent(key="lead-card:7", channel=TEAM_CHANNEL, since=before) == ref
    assert port.find_sent(key="lead-card:8", channel=TEAM_CHANNEL, since=before) is None
    assert port.find_sent(key="lead-card:7", channel=TEAM_CHANNEL,
                          since=datetime.now(UTC) + timedelta(seconds=1)) is None
    found = port.find_sent(key="brief-dm:3", email="jordan@rh.example", since=before)
    assert found is not None and found.channel == "DUJORDAN"
    history = slack.calls("conversations.history")[0]
    assert history["include_all_metadata"] == "true" and history["channel"] == TEAM_CHANNEL
    plain = slack._conversation_history({"channel": TEAM_CHANNEL})["messages"][0]
    assert "metadata" not in plain  # Slack shows metadata only when asked


def test_find_sent_pages_through_a_busy_channel(slack: FakeSlack) -> None:
    port = chat(slack)
    before = datetime.now(UTC) - timedelta(seconds=1)
    port.post(channel=TEAM_CHANNEL, message=Message("first"), key="wanted")
    for n in range(450):
        port.post(channel=TEAM_CHANNEL, message=Message(f"n{n}"), key=f"other:{n}")
    assert port.find_sent(key="wanted", channel=TEAM_CHANNEL, since=before) is not None
    assert len(slack.calls("conversations.history")) == 3


class SlackTime:
    """Monotonic time that moves only when the port sleeps: waits cost no test time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def busy_channel(slack: FakeSlack, others: int) -> datetime:
    """The wanted message first, then `others` newer ones; returns a time before them."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    port = chat(slack)
    port.post(channel=TEAM_CHANNEL, message=Message("first"), key="wanted")
    for n in range(others):
        port.post(channel=TEAM_CHANNEL, message=Message(f"n{n}"), key=f"other:{n}")
    return before


def test_find_sent_waits_out_a_429_and_resumes_at_the_same_page(slack: FakeSlack) -> None:
    before = busy_channel(slack, 450)  # three pages of 200, the wanted message on the last
    time_ = SlackTime()
    port = SlackChat(token=TOKEN, api_url=slack.url, names=NAMES,
                     monotonic=time_.monotonic, sleep=time_.sleep)
    slack.calls_made.clear()
    slack.rate_limit_every, slack.rate_limit_retry_after = 2, 1.5  # every other call
    assert port.find_sent(key="wanted", channel=TEAM_CHANNEL, since=before) is not None
    tries = [(c.status, c.args.get("cursor")) for c in slack.calls_made]
    assert [cursor for status, cursor in tries if status == 200] == [None, "200", "400"]
    refused = [n for n, (status, _) in enumerate(tries) if status == 429]
    assert len(refused) >= 2 and all(tries[n + 1][1] == tries[n][1] for n in refused)
    assert time_.slept == [1.5] * len(refused)


def test_a_lookup_longer_than_every_nth_call_still_finishes(slack: FakeSlack) -> None:
    # The replica fault run: a 429 on every fifth call. Starting a lookup over after a
    # 429 meets it on the same page every time; resuming gets through.
    before = busy_channel(slack, 850)  # five pages
    time_ = SlackTime()
    port = SlackChat(token=TOKEN, api_url=slack.url, names=NAMES,
                     monotonic=time_.monotonic, sleep=time_.sleep)
    slack.calls_made.clear()
    slack.rate_limit_every, slack.rate_limit_retry_after = 5, 0
    assert port.find_sent(key="wanted", channel=TEAM_CHANNEL, since=before) is not None
    assert len(slack.calls("conversations.history")) == 5
    assert slack.attempts("conversations.history") == 6 and time_.slept == [0]


def test_a_long_rate_limit_ends_the_lookup_for_delivery_to_retry(slack: FakeSlack) -> None:
    before = busy_channel(slack, 10)
    time_ = SlackTime()
    port = SlackChat(token=TOKEN, api_url=slack.url, names=NAMES,
                     monotonic=time_.monotonic, sleep=time_.sleep)
    slack.fail_next("conversations.history", 429, retry_after=30)
    with pytest.raises(ChatError) as limited:
        port.find_sent(key="wanted", channel=TEAM_CHANNEL, since=before)
    # Too long to hold a delivery worker: the outbox waits it out for every replica.
    assert limited.value.retry_after == 30 and limited.value.scope == "lookup"
    assert time_.slept == [] and slack.attempts("conversations.history") == 1


def test_looking_for_a_sent_message_needs_the_history_scopes(slack: FakeSlack) -> None:
    # Slack's conversations.history needs channels:history (public), groups:history
    # (private) and im:history (DMs): without them find_sent could never find anything.
    slack.scopes = [s for s in slack.scopes if not s.endswith(":history")]
    port = chat(slack)
    before = datetime.now(UTC) - timedelta(seconds=1)
    port.post(channel=TEAM_CHANNEL, message=Message("lead"), key="lead-card:9")
    with pytest.raises(ChatError) as refused:
        port.find_sent(key="lead-card:9", channel=TEAM_CHANNEL, since=before)
    assert refused.value.code == "missing_scope"
    assert ("conversations.history", "missing_scope", ["channels:history"]) in slack.refused


def test_a_workspace_wide_429_holds_dms_in_every_replica_a_channel_429_one_channel(
        slack: FakeSlack) -> None:
    clock = FixedClock(datetime(2026, 12, 1, 16, tzinfo=UTC))
    outbox = InMemoryOutbox()  # the shared database
    notifier = Notifier(outbox=outbox, clock=clock, channel=TEAM_CHANNEL)
    slack.add_user("sam@rh.example", "USAM", "Sam Lee")
    replicas = [OutboxDelivery(outbox=outbox, clock=clock, workers=1, chat=chat(
        slack, monotonic=lambda: clock.now().timestamp())) for _ in range(2)]
    notifier.direct(key="lead-card:1", email="jordan@rh.example", message=Message("one"))
    slack.fail_next("users.lookupByEmail", 429, retry_after=30)
    replicas[0].deliver_due()
    notifier.direct(key="lead-card:2", email="sam@rh.example", message=Message("two"))
    slack.fail_next("chat.postMessage", 429, retry_after=3)
    notifier.post(key="brief:1", message=Message("brief"))
    replicas[1].deliver_due()
    assert slack.attempts("users.lookupByEmail") == 1  # replica 1 held its DM too
    assert slack.attempts("chat.postMessage") == 1 and slack.calls("chat.postMessage") == []
    assert outbox.leases[TEAM_CHANNEL].next_send_at == clock.now() + timedelta(seconds=3)
    clock.advance(timedelta(seconds=3))
    replicas[1].deliver_due()
    assert [c["text"] for c in slack.calls("chat.postMessage")] == ["brief"]
    clock.advance(timedelta(seconds=27))
    replicas[1].deliver_due()
    assert sorted(c["text"] for c in slack.calls("chat.postMessage")) == ["brief", "one", "two"]


def test_a_retry_after_of_zero_means_retry_at_once_not_a_growing_backoff() -> None:
    refused = refusal("chat.postMessage", 429, {"ok": False, "error": "ratelimited"},
                      {"Retry-After": "0"})
    assert refused.transient and refused.retry_after == 0
    # With a wait given, delivery retries after it, however often it was refused before.
    clock = FixedClock(datetime(2026, 11, 30, 16, tzinfo=UTC))
    outbox = InMemoryOutbox()
    Notifier(outbox=outbox, clock=clock, channel="#sales").post(key="a", message=Message("a"))

    class Refusing:
        def __getattr__(self, name: str) -> object:
            def refuse(**_: object) -> None:
                raise refused
            return refuse

    delivery = OutboxDelivery(outbox=outbox, chat=Refusing(), clock=clock)  # type: ignore[arg-type]
    for _ in range(12):
        delivery.deliver_due()
        clock.advance(timedelta(seconds=1))
    item = outbox.get("a")
    assert item is not None and item.attempts == 12
    assert item.next_attempt_at is not None
    assert item.next_attempt_at - clock.now() <= timedelta(seconds=1)
