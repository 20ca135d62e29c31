"""Delivery under a backlog, on PostgreSQL against the fake Slack over HTTP.

A backlog of 2,000 messages is queued for 200 other conversations (10 each); while it
drains, new lead DMs are queued one at a time and timed until the fake Slack has them.
Floor, interleaved with them: the same DM posted straight through the Slack adapter.
Then: how long the backlog took to drain, against Slack's documented limit for
chat.postMessage (about one message per second per conversation): 10 s for 10 each.

    python bench/bench_delivery.py        # OSCBOT_BENCH_POSTGRES_URL to point elsewhere
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import percentile
from bot.delivery import OutboxDelivery
from bot.messages import Message
from bot.services.notify import Notifier
from handlers.slack.chat import SlackChat
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.outbox import SqlOutbox
from tests.fakes.slack_api import TOKEN, FakeSlack

POSTGRES = os.environ.get("OSCBOT_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
BACKLOG, CONVERSATIONS, SAMPLES = 2000, 200, 40


class WallClock:
    """The real clock."""

    def now(self) -> datetime:
        """Now, UTC."""
        return datetime.now(UTC)


def arrived(slack: FakeSlack, channel: str, key: str) -> bool:
    """True once the fake Slack holds the message with this key."""
    return any((m.get("metadata") or {}).get("event_payload", {}).get("key") == key
               for m in slack.history_of(channel))


def main() -> None:
    name = f"oscbot_bench_{uuid.uuid4().hex[:8]}"
    base = POSTGRES.rsplit("/", 1)[0]
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        run(url)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str) -> None:
    upgrade(url)
    engine = engine_from_url(url)
    clock = WallClock()
    outbox = SqlOutbox(engine)
    notifier = Notifier(outbox=outbox, clock=clock, channel="C-team")
    with FakeSlack() as slack:
        for n in range(SAMPLES * 2):
            slack.add_user(f"osc{n}@example.com", f"UOSC{n}")
        for n in range(CONVERSATIONS):
            slack.add_channel(f"C{n:04d}", f"community-{n}")
        chat = SlackChat(token=TOKEN, api_url=slack.url, names={})
        floor_chat = SlackChat(token=TOKEN, api_url=slack.url, names={})
        for n in range(BACKLOG):
            notifier.post(key=f"backlog:{n}", message=Message(f"backlog {n}"),
                          channel=f"C{n % CONVERSATIONS:04d}")
        delivery = OutboxDelivery(outbox=outbox, chat=chat, clock=clock, workers=8)
        stop = threading.Event()
        started = time.monotonic()
        loop = threading.Thread(target=delivery.run, args=(stop,), kwargs={"poll": 0.05})
        loop.start()
        ours: list[float] = []
        floor: list[float] = []
        for n in range(SAMPLES):
            email = f"osc{n}@example.com"
            key = f"lead-card:{n}"
            t0 = time.monotonic()
            notifier.direct(key=key, email=email, message=Message(f"New lead {n}"))
            delivery.kick()
            while not arrived(slack, f"DUOSC{n}", key):
                time.sleep(0.005)
            ours.append(time.monotonic() - t0)
            t0 = time.monotonic()
            floor_chat.direct(email=f"osc{SAMPLES + n}@example.com",
                              message=Message(f"floor {n}"), key=f"floor:{n}")
            floor.append(time.monotonic() - t0)
            time.sleep(0.1)
        while outbox.counts()["pending"]:
            time.sleep(0.1)
        drained = time.monotonic() - started
        stop.set()
        loop.join(30)
    engine.dispose()
    ours.sort()
    floor.sort()
    print(f"backlog {BACKLOG} messages over {CONVERSATIONS} conversations, "
          f"{SAMPLES} new lead DMs queued while it drains")
    print(f"lead DM queued -> in Slack: p50 {percentile(ours, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(ours, 0.99) * 1000:.0f} ms (floor, a bare post: p50 "
          f"{percentile(floor, 0.5) * 1000:.0f} ms, p99 {percentile(floor, 0.99) * 1000:.0f} "
          f"ms; ratio p99 {percentile(ours, 0.99) / percentile(floor, 0.99):.1f}x)")
    limit = BACKLOG / CONVERSATIONS
    print(f"backlog drained in {drained:.1f} s; Slack's limit (1 message/s per "
          f"conversation, {BACKLOG // CONVERSATIONS} each) allows {limit:.0f} s at best "
          f"(ratio {drained / limit:.2f}x)")


if __name__ == "__main__":
    main()
