"""`oscbot outbox list` and `oscbot outbox retry` on a real SQLite database: what is
queued, sent and failed with the reason, and a failed message queued again and then
delivered once; anything but a failed message is refused."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.delivery.deliverer import OutboxDelivery
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.messages import Message
from bot.ports.chat import MessageRef
from bot.ports.delivery import OutboxItem, OutboxStatus
from handlers.cli.app import app
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.outbox import SqlOutbox

LONG_AGO = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REFUSED = "Slack chat.postMessage: the channel does not exist (channel_not_found)"


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqlOutbox:
    """A migrated SQLite file (DATABASE_URL) with one pending, one sent and one failed."""
    url = f"sqlite:///{tmp_path / 'oscbot.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")  # the table on one line per row
    store = SqlOutbox(engine_from_url(url))

    def queued(key: str, target: str) -> OutboxItem:
        item, _ = store.enqueue(OutboxItem(
            id=None, key=key, target_kind="channel", target=target,
            message=Message(f"text of {key}"), status=OutboxStatus.PENDING,
            created_at=LONG_AGO))
        return item

    queued("lead-alert:1", "C0SALES01")
    sent = queued("brief:1", "C0SALES01")
    store.save(dataclasses.replace(sent, status=OutboxStatus.SENT, attempts=1,
                                   ref=MessageRef("C0SALES01", "1.0"), sent_at=LONG_AGO))
    failed = queued("lead-escalation:2", "C0GONE01")
    store.save(dataclasses.replace(failed, status=OutboxStatus.FAILED, attempts=3,
                                   last_error=REFUSED))
    return store


def test_list_counts_by_status_and_shows_the_newest_with_their_last_error(
        outbox: SqlOutbox) -> None:
    everything = CliRunner().invoke(app, ["outbox", "list"])
    assert everything.exit_code == 0, everything.output
    lines = everything.output.splitlines()
    assert lines[0] == "1 pending, 1 sent, 1 failed"
    rows = [line for line in lines if "│" in line and "key" not in line]
    assert [row.split("│")[1].strip() for row in rows] == [
        "lead-escalation:2", "brief:1", "lead-alert:1"]  # newest first
    assert "channel_not_found" in rows[0] and "failed" in rows[0]
    failed = CliRunner().invoke(app, ["outbox", "list", "--failed"])
    assert failed.exit_code == 0, failed.output
    assert "lead-escalation:2" in failed.output and "C0GONE01" in failed.output
    assert "brief:1" not in failed.output and "lead-alert:1" not in failed.output


def test_retry_queues_a_failed_message_again_and_delivery_sends_it_once(
        outbox: SqlOutbox) -> None:
    done = CliRunner().invoke(app, ["outbox", "retry", "lead-escalation:2"])
    assert done.exit_code == 0, done.output
    assert "lead-escalation:2 queued again" in done.output
    item = outbox.get("lead-escalation:2")
    assert item is not None and item.status is OutboxStatus.PENDING
    assert item.last_error == "" and item.next_attempt_at is None
    # A fresh retry window: it counts from now, not from when it was first queued.
    assert item.created_at > LONG_AGO + timedelta(days=1)
    clock = FixedClock(item.created_at)
    chat = RecordingChat(clock)
    OutboxDelivery(outbox=outbox, chat=chat, clock=clock).deliver_due()
    OutboxDelivery(outbox=outbox, chat=chat, clock=clock).deliver_due()
    assert [m.key for m in chat.transcript] == ["lead-alert:1", "lead-escalation:2"]
    listed = CliRunner().invoke(app, ["outbox", "list"])
    assert listed.output.splitlines()[0] == "0 pending, 3 sent, 0 failed"


@pytest.mark.parametrize(("key", "why"), [
    ("brief:1", "brief:1 is sent, not failed; only failed messages are retried"),
    ("lead-alert:1", "lead-alert:1 is pending, not failed"),
    ("nothing:9", "no outbox message with key 'nothing:9'"),
])
def test_retry_refuses_anything_but_a_failed_message(outbox: SqlOutbox, key: str,
                                                     why: str) -> None:
    before = outbox.get(key)
    refused = CliRunner().invoke(app, ["outbox", "retry", key])
    assert refused.exit_code == 2
    assert why in " ".join(refused.output.split())
    assert outbox.get(key) == before
