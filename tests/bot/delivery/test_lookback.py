"""Before sending again a message whose first try may have arrived, the platform's
history is searched from a little before that try: the platform's clock may be behind
ours, so it may have recorded the message "earlier" than we first tried it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.errors import ChatError
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.delivery import InMemoryOutbox
from bot.messages import Message
from bot.ports.chat import MessageRef
from bot.ports.delivery import OutboxStatus

T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)


class BehindClock:
    """The platform's clock: ours, less a fixed skew."""

    def __init__(self, ours: FixedClock, skew: timedelta) -> None:
        self._ours = ours
        self._skew = skew

    def now(self) -> datetime:
        """Our instant, as the platform's slow clock reads it."""
        return self._ours.now() - self._skew


class LostAnswerChat(RecordingChat):
    """Stores the first message it is sent, then times out before answering."""

    lost = False

    def _answer(self, ref: MessageRef) -> MessageRef:
        if not self.lost:
            self.lost = True
            raise ChatError("timed out", transient=True, maybe_sent=True)
        return ref

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        return self._answer(super().post(channel=channel, message=message, key=key))

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        return self._answer(super().direct(email=email, message=message, key=key))


@pytest.mark.parametrize("kind", ["channel", "direct"])
def test_a_message_the_platform_stamped_before_our_first_try_is_found_not_sent_again(
        kind: str) -> None:
    clock = FixedClock(T0)
    chat = LostAnswerChat(clock=BehindClock(clock, timedelta(seconds=90)))
    outbox = InMemoryOutbox()
    notifier = Notifier(outbox=outbox, clock=clock, channel="#online-sales")
    delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock, workers=1)
    if kind == "channel":
        notifier.post(key="lead-alert:1", message=Message("Lead waiting"))
    else:
        notifier.direct(key="lead-alert:1", email="maria@rh.example",
                        message=Message("Lead waiting"))
    clock.advance(timedelta(seconds=5))  # first tried a little after it was queued
    assert delivery.deliver_due().retried == 1
    [stored] = chat.transcript
    unsure = outbox.get("lead-alert:1")
    assert unsure is not None and unsure.in_flight and unsure.first_tried_at is not None
    assert stored.at is not None and stored.at < unsure.first_tried_at  # the skew
    for _ in range(10):
        clock.advance(timedelta(seconds=1))
        delivery.deliver_due()
    assert chat.texts() == ["Lead waiting"]
    item = outbox.get("lead-alert:1")
    assert item is not None and item.status is OutboxStatus.SENT and not item.in_flight
    assert item.ref == stored.ref
