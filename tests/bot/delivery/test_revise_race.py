"""Editing a queued message while a deliverer sends it (a lead called back the moment
its DM goes out): the DM must still arrive once.

`Notifier.revise` folds an edit into a message that is still pending. It used to read the
row and write it back whole: when a deliverer sent and recorded the message between that
read and that write, the write put back the old state (pending, not in flight, no
reference) and the message went out a second time (the fault test with 2,000 leads on
replicas saw it on about one lead in 700). The rewrite is now one conditional write that
holds only while no deliverer has touched the message; otherwise the change goes out as
an edit after the send.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.messages import Message
from bot.ports.delivery import OutboxItem, OutboxRepository
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.outbox import SqlOutbox

T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)


class SendsWhileRead:
    """The real outbox; the next `get` of `key` lets the deliverer send before it returns
    what it read (the interleaving two replicas can produce)."""

    def __init__(self, inner: OutboxRepository, key: str, deliver: Any) -> None:
        self._inner = inner
        self._key = key
        self._deliver = deliver

    def get(self, key: str) -> OutboxItem | None:
        """Read, then let the deliverer run once, then answer what was read."""
        item = self._inner.get(key)
        if key == self._key and self._deliver is not None:
            deliver, self._deliver = self._deliver, None
            deliver()
        return item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_card_edited_while_it_is_being_sent_arrives_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oscbot.db'}"
    upgrade(url)
    outbox = SqlOutbox(engine_from_url(url))
    clock = FixedClock(T0)
    chat = RecordingChat(clock)
    delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock)
    Notifier(outbox=outbox, clock=clock, channel="#sales").direct(
        key="lead-card:1", email="maria@rh.example", message=Message("New lead"))
    racing = SendsWhileRead(outbox, "lead-card:1", delivery.deliver_due)
    Notifier(outbox=racing, clock=clock, channel="#sales").revise(  # type: ignore[arg-type]
        key="lead-card:1", message=Message("New lead — called"))
    clock.advance(timedelta(seconds=5))
    delivery.deliver_due()
    assert [m.key for m in chat.transcript if m.kind == "direct"] == ["lead-card:1"]
    # The change still reaches the person: as an edit of the DM that went out.
    assert [m.message.text for m in chat.transcript if m.kind == "update"] == [
        "New lead — called"]
