"""Outbox delivery: once each, in order per conversation, paced, fair, retried by time,
never twice on an ambiguous outcome, leases taken over when a deliverer dies."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.delivery.deliverer import RUN_LENGTH, OutboxDelivery
from bot.delivery.notify import Notifier
from bot.errors import ChatError
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.delivery import InMemoryOutbox
from bot.messages import Message
from bot.ports.chat import MessageRef
from bot.ports.delivery import Claim, OutboxItem, OutboxStatus

T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)


class FlakyChat(RecordingChat):
    """Answers 429 with Retry-After to every `every`-th post, refuses the given texts,
    is down while `down` is set, and can store a post yet time out (`lose_answers`)."""

    def __init__(self, clock: FixedClock, *, every: int = 0,
                 permanent: set[str] | None = None) -> None:
        super().__init__(clock)
        self.every = every
        self.calls = 0
        self.permanent = permanent or set()
        self.down = False
        self.lose_answers = 0

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        self.calls += 1
        if self.down:
            raise ChatError("HTTP 503", transient=True, maybe_sent=True)
        if message.text in self.permanent:
            raise ChatError("channel_not_found")
        if self.every and self.calls % self.every == 0:
            raise ChatError("ratelimited", transient=True, retry_after=3)
        ref = super().post(channel=channel, message=message, key=key)
        return self._answer(ref)

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        if self.down:
            raise ChatError("HTTP 503", transient=True, maybe_sent=True)
        return self._answer(super().direct(email=email, message=message, key=key))

    def _answer(self, ref: MessageRef) -> MessageRef:
        if self.lose_answers:
            self.lose_answers -= 1
            raise ChatError("timed out", transient=True, maybe_sent=True)
        return ref


def setup(chat: RecordingChat, clock: FixedClock,
          **options: object) -> tuple[Notifier, OutboxDelivery, InMemoryOutbox]:
    outbox = InMemoryOutbox()
    notifier = Notifier(outbox=outbox, clock=clock, channel="#sales")
    delivery = OutboxDelivery(
        outbox=outbox, chat=chat, clock=clock,
        on_failed=lambda item: notifier.failed_delivery(item, managers=["dana@rh.example"]),
        **{"workers": 4, **options})  # type: ignore[arg-type]
    return notifier, delivery, outbox


def run_for(delivery: OutboxDelivery, clock: FixedClock, seconds: int) -> None:
    for _ in range(seconds):
        delivery.deliver_due()
        clock.advance(timedelta(seconds=1))


def test_burst_under_rate_limits_is_delivered_once_each_in_order_and_paced() -> None:
    clock = FixedClock(T0)
    chat = FlakyChat(clock, every=7)
    notifier, delivery, _ = setup(chat, clock)
    for n in range(60):
        notifier.post(key=f"alert:{n}", message=Message(f"alert {n}"))
    run_for(delivery, clock, 200)
    assert chat.texts("channel") == [f"alert {n}" for n in range(60)]
    times = [m.at for m in chat.transcript]
    assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(times))


def test_a_backlog_in_one_channel_never_delays_another() -> None:
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    notifier, delivery, _ = setup(chat, clock)
    for n in range(300):
        notifier.post(key=f"burst:{n}", message=Message(f"burst {n}"), channel="#oak-hill")
    delivery.deliver_due()
    notifier.direct(key="lead-card:1", email="sam@rh.example", message=Message("new lead"))
    delivery.deliver_due()
    assert chat.texts("direct") == ["new lead"]
    assert len(chat.texts("channel")) == 1  # paced: one a second in #oak-hill


def test_permanent_error_is_kept_and_the_managers_are_told_in_plain_text() -> None:
    clock = FixedClock(T0)
    chat = FlakyChat(clock, permanent={"bad"})
    notifier, delivery, outbox = setup(chat, clock)
    notifier.post(key="bad", message=Message("bad"), channel="#gone")
    notifier.post(key="good", message=Message("good"))
    delivery.deliver_due()
    failed = outbox.get("bad")
    assert failed is not None and failed.status is OutboxStatus.FAILED
    assert failed.last_error == "channel_not_found"
    warning = chat.transcript[-1]
    assert (warning.kind, warning.target) == ("direct", "dana@rh.example")
    assert "oscbot outbox retry bad" in warning.message.text and not warning.message.blocks
    assert outbox.counts() == {"pending": 0, "sent": 2, "failed": 1}


def test_a_long_outage_is_retried_by_time_and_delivery_resumes_by_itself() -> None:
    clock = FixedClock(T0)
    chat = FlakyChat(clock)
    notifier, delivery, outbox = setup(chat, clock)
    chat.down = True
    notifier.direct(key="lead-card:1", email="sam@rh.example", message=Message("lead"))
    run_for(delivery, clock, 19 * 60)
    item = outbox.get("lead-card:1")
    assert item is not None and item.status is OutboxStatus.PENDING
    assert 8 <= item.attempts <= 20  # backoff, capped at five minutes
    chat.down = False
    run_for(delivery, clock, 5 * 60 + 1)
    assert chat.texts("direct") == ["lead"]  # each failed try may have arrived: looked up


def test_a_message_failing_past_the_retry_window_fails_for_good() -> None:
    clock = FixedClock(T0)
    chat = FlakyChat(clock)
    notifier, delivery, outbox = setup(chat, clock, retry_for=timedelta(minutes=30))
    chat.down = True
    notifier.post(key="alert:1", message=Message("alert"))
    run_for(delivery, clock, 40 * 60)
    item = outbox.get("alert:1")
    assert item is not None and item.status is OutboxStatus.FAILED
    assert "still failing after" in item.last_error


def test_a_timeout_after_slack_stored_the_message_is_not_sent_again() -> None:
    clock = FixedClock(T0)
    chat = FlakyChat(clock)
    notifier, delivery, outbox = setup(chat, clock)
    chat.lose_answers = 1
    notifier.post(key="lead-alert:1", message=Message("alert"))
    run_for(delivery, clock, 10)
    assert chat.texts() == ["alert"]
    item = outbox.get("lead-alert:1")
    assert item is not None and item.status is OutboxStatus.SENT
    assert item.ref == chat.transcript[0].ref and not item.in_flight


class DiskFullOutbox(InMemoryOutbox):
    """Cannot write "sent" (a full disk, a dropped connection after the send)."""

    broken = True

    def save(self, item: OutboxItem) -> OutboxItem:
        if self.broken and item.status is OutboxStatus.SENT:
            raise OSError("No space left on device")
        return super().save(item)


def test_when_sent_cannot_be_recorded_delivery_stops_and_never_repeats() -> None:
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    outbox = DiskFullOutbox()
    notifier = Notifier(outbox=outbox, clock=clock, channel="#sales")
    delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock, workers=1,
                              lease=timedelta(seconds=30))
    for n in range(5):
        notifier.direct(key=f"dm:{n}", email=f"p{n}@rh.example", message=Message(f"m{n}"))
    for _ in range(30):
        delivery.deliver_due()
        clock.advance(timedelta(seconds=1))
    assert len(chat.transcript) == 1  # the first send could not be recorded: stopped
    outbox.broken = False
    clock.advance(timedelta(seconds=60))
    replacement = OutboxDelivery(outbox=outbox, chat=chat, clock=clock)
    replacement.deliver_due()
    assert sorted(chat.texts()) == [f"m{n}" for n in range(5)]  # m0 found, not resent
    assert all(i.status is OutboxStatus.SENT for i in outbox.recent())


def test_a_lease_excludes_other_deliverers_until_it_runs_out() -> None:
    clock = FixedClock(T0)
    outbox = InMemoryOutbox()
    Notifier(outbox=outbox, clock=clock, channel="#sales").post(key="a", message=Message("a"))
    lease = timedelta(seconds=60)
    [first] = outbox.claim(owner="one", now=clock.now(), lease=lease, limit=5)
    assert first.item.key == "a" and first.item.in_flight and not first.unsure
    assert outbox.claim(owner="two", now=clock.now(), lease=lease, limit=5) == []
    clock.advance(timedelta(seconds=61))
    [taken] = outbox.claim(owner="two", now=clock.now(), lease=lease, limit=5)
    assert taken.unsure and taken.item.attempts == 2  # "one" may have sent it: look first
    outbox.release("#sales", owner="one", now=clock.now(), next_send_at=None)
    assert outbox.claim(owner="three", now=clock.now(), lease=lease, limit=5) == []


def test_a_claim_that_waited_too_long_for_a_worker_is_not_sent() -> None:
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    notifier, delivery, outbox = setup(chat, clock)
    notifier.post(key="a", message=Message("a"))
    [claim] = outbox.claim(owner=delivery.owner, now=clock.now(),
                           lease=timedelta(seconds=60), limit=1)
    clock.advance(timedelta(seconds=50))  # the lease may run out mid-send
    assert delivery.work(claim).sent == 0 and chat.transcript == []
    delivery.deliver_due()
    assert chat.texts() == ["a"]  # taken again, looked up first, sent once


def test_a_new_lead_dm_goes_before_a_backlog_of_ready_conversations() -> None:
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    notifier, _, outbox = setup(chat, clock)
    for n in range(50):
        notifier.post(key=f"reminder:{n}", message=Message("r"), channel=f"#c{n}")
    clock.advance(timedelta(seconds=1))
    notifier.direct(key="lead-card:1", email="sam@rh.example", message=Message("lead"))
    notifier.post(key="digest:1", message=Message("d"), channel="#digest")
    [first] = outbox.claim(owner="d", now=clock.now(), lease=timedelta(seconds=60), limit=1)
    assert first.item.key == "lead-card:1"
    [second] = outbox.claim(owner="d", now=clock.now(), lease=timedelta(seconds=60), limit=1)
    assert second.item.key == "reminder:0"  # then whoever has been ready the longest


def test_a_shared_rate_limit_holds_those_claims_and_lets_the_rest_go() -> None:
    clock = FixedClock(T0)
    chat = LimitedLookups(clock)
    notifier, delivery, outbox = setup(chat, clock, workers=1)
    notifier.direct(key="lead-card:1", email="sam@rh.example", message=Message("one"))
    notifier.direct(key="lead-card:2", email="kim@rh.example", message=Message("two"))
    notifier.post(key="brief:1", message=Message("brief"))
    delivery.deliver_due()
    assert chat.texts() == ["brief"] and chat.lookups == 1
    assert outbox.pauses == {"direct": T0 + timedelta(seconds=30)}
    clock.advance(timedelta(seconds=30))
    delivery.deliver_due()
    assert sorted(chat.texts("direct")) == ["one", "two"]


class LimitedLookups(RecordingChat):
    """The first DM meets a workspace-wide 429 on finding the person."""

    lookups = 0

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        self.lookups += 1
        if self.lookups == 1:
            raise ChatError("Slack rate limit on users.lookupByEmail", transient=True,
                            retry_after=30, code="ratelimited", scope="direct")
        return super().direct(email=email, message=message, key=key)


def test_edits_go_to_the_sent_message_and_fold_into_an_unsent_one() -> None:
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    notifier, delivery, _ = setup(chat, clock)
    notifier.post(key="brief:1", message=Message("v1"))
    notifier.revise(key="brief:1", message=Message("v2"))
    delivery.deliver_due()
    assert chat.texts() == ["v2"]
    notifier.revise(key="brief:1", message=Message("v3"))
    notifier.revise(key="brief:1", message=Message("v3"))
    clock.advance(timedelta(seconds=5))
    delivery.deliver_due()
    assert [(m.kind, m.message.text) for m in chat.transcript] == [("channel", "v2"),
                                                                  ("update", "v3")]
    assert chat.transcript[1].ref == chat.transcript[0].ref


@pytest.mark.parametrize("fails", [1, 3])
def test_backoff_doubles_without_retry_after(fails: int) -> None:
    clock = FixedClock(T0)
    chat = FlakyChat(clock)
    notifier, delivery, outbox = setup(chat, clock)
    chat.down = True
    notifier.post(key="x", message=Message("x"))
    waits = []
    for _ in range(fails):
        delivery.deliver_due()
        item = outbox.get("x")
        assert item is not None and item.next_attempt_at is not None
        waits.append(item.next_attempt_at - clock.now())
        clock.set(item.next_attempt_at)
    assert waits == [timedelta(seconds=2 ** n) for n in range(fails)]
    chat.down = False
    delivery.deliver_due()
    assert chat.texts() == ["x"]


class FlakyLookups(FlakyChat):
    """Its history lookups are rate-limited the first `busy` times."""

    busy = 2

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        if self.busy:
            self.busy -= 1
            raise ChatError("ratelimited", transient=True, retry_after=1)
        return super().find_sent(key=key, channel=channel, email=email, since=since)


def test_a_rate_limited_lookup_keeps_the_message_unsure_and_never_resends() -> None:
    clock = FixedClock(T0)
    chat = FlakyLookups(clock)
    notifier, delivery, outbox = setup(chat, clock)
    chat.lose_answers = 1
    notifier.direct(key="lead-card:9", email="sam@rh.example", message=Message("lead"))
    run_for(delivery, clock, 20)
    assert chat.texts() == ["lead"]
    item = outbox.get("lead-card:9")
    assert item is not None and item.status is OutboxStatus.SENT and chat.busy == 0


class OutboxDroppingReads(InMemoryOutbox):
    """An outbox whose reads of one key fail `failures` times (a dropped connection)."""

    def __init__(self, key: str, failures: int) -> None:
        super().__init__()
        self.key = key
        self.failures = failures

    def get(self, key: str) -> OutboxItem | None:
        """Fail while failures are left for `self.key`, then read."""
        if key == self.key and self.failures:
            self.failures -= 1
            raise ConnectionError("server closed the connection unexpectedly")
        return super().get(key)


def test_an_edit_whose_original_cannot_be_read_is_retried_not_failed() -> None:
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    outbox = OutboxDroppingReads("lead-card:1", failures=0)
    notifier = Notifier(outbox=outbox, clock=clock, channel="#sales")
    delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock)
    notifier.post(key="lead-card:1", message=Message("New lead"))
    delivery.deliver_due()
    notifier.revise(key="lead-card:1", message=Message("New lead — called"))
    outbox.failures = 1
    clock.advance(timedelta(seconds=2))  # past the conversation's pacing
    report = delivery.deliver_due()
    assert (report.retried, report.failed) == (1, 0)
    clock.advance(timedelta(seconds=5))
    delivery.deliver_due()
    assert [m.message.text for m in chat.transcript if m.kind == "update"] == [
        "New lead — called"]
    assert outbox.counts()[OutboxStatus.FAILED] == 0


def test_a_running_loop_sends_a_conversations_next_message_at_once_when_it_is_due() -> None:
    # The send took as long as the pacing interval (here both are zero): the next message
    # may go at once, and the loop claims it then, not after its idle poll (60 s here).
    import threading

    clock = FixedClock(datetime(2026, 12, 7, 15, tzinfo=UTC))
    outbox, chat = InMemoryOutbox(), RecordingChat()
    delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock,
                              per_channel_interval=timedelta(0))
    notifier = Notifier(outbox=outbox, clock=clock, channel="C1")
    stop = threading.Event()
    loop = threading.Thread(target=delivery.run, args=(stop,), kwargs={"poll": 60.0})
    loop.start()
    try:
        while not delivery.wake():  # the loop runs and waits for work
            threading.Event().wait(0.01)
        for n in range(3):
            notifier.post(key=f"alert:{n}", message=Message(f"alert {n}"))
        delivery.wake()
        for _ in range(500):
            if len(chat.transcript) == 3:
                break
            threading.Event().wait(0.01)
    finally:
        stop.set()
        delivery.wake()
        loop.join(10)
    assert [m.key for m in chat.transcript] == ["alert:0", "alert:1", "alert:2"]


class CountingOutbox(InMemoryOutbox):
    """Remembers how each lease was recorded: (what, how many messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int]] = []

    def keep_or_release(self, conversation: str, **options: Any) -> list[Claim]:
        run = super().keep_or_release(conversation, **options)
        self.records.append(("kept" if run else "released", len(options["done"])))
        return run

    def release(self, conversation: str, **options: Any) -> None:
        super().release(conversation, **options)
        if "done" in options:  # not the release inside keep_or_release
            self.records.append(("released", len(options["done"])))


class LookupCountingChat(FlakyChat):
    """FlakyChat that counts history lookups, and can set `stop` while posting a text."""

    def __init__(self, clock: FixedClock, **options: Any) -> None:
        super().__init__(clock, **options)
        self.lookups = 0
        self.stop_on: tuple[str, threading.Event] | None = None

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        if self.stop_on is not None and message.text == self.stop_on[0]:
            self.stop_on[1].set()
        return super().post(channel=channel, message=message, key=key)

    def find_sent(self, **options: Any) -> MessageRef | None:
        self.lookups += 1
        return super().find_sent(**options)


def unpaced(chat: RecordingChat, clock: FixedClock) -> tuple[Notifier, OutboxDelivery,
                                                              CountingOutbox]:
    outbox = CountingOutbox()
    notifier = Notifier(outbox=outbox, clock=clock, channel="#sales")
    delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock,
                              per_channel_interval=timedelta(0), workers=4)
    return notifier, delivery, outbox


def test_an_unpaced_conversation_goes_out_in_runs_one_commit_per_run() -> None:
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    notifier, delivery, outbox = unpaced(chat, clock)
    for n in range(20):
        notifier.post(key=f"alert:{n}", message=Message(f"alert {n}"))
    assert delivery.deliver_due().sent == 20
    assert [m.key for m in chat.transcript] == [f"alert:{n}" for n in range(20)]
    # The first claim, then runs of up to RUN_LENGTH, each recorded with the next claim.
    assert outbox.records == [("kept", 1), ("kept", RUN_LENGTH), ("kept", RUN_LENGTH),
                              ("released", 3)]
    assert outbox.pending() == []


def test_a_429_inside_a_run_gives_the_rest_back_untried() -> None:
    clock = FixedClock(T0)
    chat = LookupCountingChat(clock, every=3)  # the third post answers 429, Retry-After 3
    notifier, delivery, outbox = unpaced(chat, clock)
    for n in range(6):
        notifier.post(key=f"alert:{n}", message=Message(f"alert {n}"))
    report = delivery.deliver_due()
    assert (report.sent, report.retried) == (2, 1)
    rest = [outbox.get(f"alert:{n}") for n in (3, 4, 5)]
    # Never tried: as before their claim, so nobody has to ask Slack whether they arrived.
    assert [(i.attempts, i.in_flight) for i in rest if i] == [(0, False)] * 3
    held = outbox.get("alert:2")
    assert held is not None and held.attempts == 1 and not held.in_flight
    for _ in range(5):
        clock.advance(timedelta(seconds=3))
        delivery.deliver_due()
    assert [m.key for m in chat.transcript] == [f"alert:{n}" for n in range(6)]
    assert chat.lookups == 0


def test_a_run_stops_when_the_loop_is_told_to_stop_and_gives_the_rest_back() -> None:
    clock = FixedClock(T0)
    chat = LookupCountingChat(clock)
    notifier, delivery, outbox = unpaced(chat, clock)
    stop = threading.Event()
    chat.stop_on = ("alert 2", stop)  # SIGTERM arrives while the third message goes out
    for n in range(6):
        notifier.post(key=f"alert:{n}", message=Message(f"alert {n}"))
    loop = threading.Thread(target=delivery.run, args=(stop,), kwargs={"poll": 0.05})
    loop.start()
    loop.join(10)
    assert not loop.is_alive()
    assert [m.key for m in chat.transcript] == ["alert:0", "alert:1", "alert:2"]
    left = [outbox.get(f"alert:{n}") for n in (3, 4, 5)]
    assert [(i.attempts, i.in_flight, i.status) for i in left if i] == [
        (0, False, OutboxStatus.PENDING)] * 3
    assert all(lease.owner is None for lease in outbox.leases.values())
