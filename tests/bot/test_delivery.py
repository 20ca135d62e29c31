"""Outbox delivery: once each, in order per channel, paced, retried on transient errors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.delivery import OutboxDelivery
from bot.errors import ChatError
from bot.fakes import FixedClock, InMemoryOutbox, RecordingChat
from bot.messages import Message
from bot.ports import MessageRef, OutboxStatus
from bot.services.notify import Notifier

T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)


class FlakyChat(RecordingChat):
    """Answers 429 with Retry-After to every `every`-th post, 500 to the given texts once."""

    def __init__(self, *, every: int = 0, permanent: set[str] | None = None) -> None:
        super().__init__()
        self.every = every
        self.calls = 0
        self.permanent = permanent or set()

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        self.calls += 1
        if message.text in self.permanent:
            raise ChatError("channel_not_found")
        if self.every and self.calls % self.every == 0:
            raise ChatError("ratelimited", transient=True, retry_after=3)
        return super().post(channel=channel, message=message, key=key)


def setup(chat: RecordingChat) -> tuple[FixedClock, Notifier, OutboxDelivery, list[float]]:
    clock = FixedClock(T0)
    outbox = InMemoryOutbox()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock, sleep=sleep)
    return clock, Notifier(outbox=outbox, clock=clock, channel="#sales"), delivery, slept


def test_burst_under_rate_limits_is_delivered_once_each_in_order() -> None:
    chat = FlakyChat(every=7)
    clock, notifier, delivery, slept = setup(chat)
    for n in range(200):
        notifier.post(key=f"alert:{n}", message=Message(f"alert {n}"))
    for _ in range(400):
        delivery.deliver_due(clock.now())
        clock.advance(timedelta(seconds=1))
    assert chat.texts("channel") == [f"alert {n}" for n in range(200)]
    assert all(s <= 1.0 for s in slept)
    assert chat.calls > 200


def test_pacing_waits_a_second_between_posts_to_one_channel() -> None:
    chat = RecordingChat()
    clock, notifier, delivery, slept = setup(chat)
    for n in range(3):
        notifier.post(key=f"a:{n}", message=Message(f"a{n}"))
    notifier.post(key="other", message=Message("b"), channel="#other")
    report = delivery.deliver_due(clock.now())
    assert report.sent == 4
    assert slept == [1.0, 1.0]


def test_permanent_error_is_recorded_and_others_still_go() -> None:
    chat = FlakyChat(permanent={"bad"})
    clock, notifier, delivery, _ = setup(chat)
    notifier.post(key="bad", message=Message("bad"), channel="#gone")
    notifier.post(key="good", message=Message("good"))
    report = delivery.deliver_due(clock.now())
    assert (report.sent, report.failed) == (1, 1)
    failed = delivery._outbox.get("bad")  # type: ignore[attr-defined]
    assert failed.status is OutboxStatus.FAILED and failed.last_error == "channel_not_found"


def test_edits_go_to_the_sent_message_and_fold_into_an_unsent_one() -> None:
    chat = RecordingChat()
    clock, notifier, delivery, _ = setup(chat)
    notifier.post(key="brief:1", message=Message("v1"))
    notifier.revise(key="brief:1", message=Message("v2"))
    delivery.deliver_due(clock.now())
    assert chat.texts() == ["v2"]
    notifier.revise(key="brief:1", message=Message("v3"))
    notifier.revise(key="brief:1", message=Message("v3"))
    clock.advance(timedelta(seconds=5))
    delivery.deliver_due(clock.now())
    assert [(m.kind, m.message.text) for m in chat.transcript] == [("channel", "v2"),
                                                                  ("update", "v3")]
    assert chat.transcript[1].ref == chat.transcript[0].ref


def test_direct_messages_and_retry_backoff_without_retry_after() -> None:
    class Down(RecordingChat):
        fails = 2

        def direct(self, *, email: str, message: Message,
                   key: str | None = None) -> MessageRef:
            if self.fails:
                self.fails -= 1
                raise ChatError("HTTP 503", transient=True)
            return super().direct(email=email, message=message, key=key)

    chat = Down()
    clock, notifier, delivery, _ = setup(chat)
    notifier.direct(key="dm", email="sam@rh.example", message=Message("hi"))
    assert delivery.deliver_due(clock.now()).retried == 1
    item = delivery._outbox.get("dm")  # type: ignore[attr-defined]
    assert item.next_attempt_at == T0 + timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    delivery.deliver_due(clock.now())
    item = delivery._outbox.get("dm")  # type: ignore[attr-defined]
    assert item.next_attempt_at == T0 + timedelta(seconds=3)
    clock.set(dataclasses.replace(item).next_attempt_at or T0)
    assert delivery.deliver_due(clock.now()).sent == 1
    assert chat.texts("direct") == ["hi"]
