"""Delivery under a backlog, on PostgreSQL against the fake Slack over HTTP.

A backlog of 2,000 messages is queued for 200 other conversations (10 each); while it
drains, DMs are queued one at a time and timed until the fake Slack has them:
a new lead's DM (urgent: speed to lead), and a reminder DM (not urgent: it shows the
fairness alone). Floor, interleaved with them: the same kind of DM posted straight
through the Slack adapter (a new person each time: users.lookupByEmail,
conversations.open, chat.postMessage, as the outbox path does). The delivery loop runs
with the production defaults (workers, poll, one-second pacing per conversation).

Then: how long the backlog took to drain, against two floors:
- Slack's documented limit (Web API rate limits, "Special" tier): chat.postMessage
  "generally allows posting one message per second per channel", short bursts above
  that tolerated, "while also maintaining a workspace-wide limit" that is not given as
  a number. 10 messages in each of 200 channels at one a second: the tenth can go 9 s
  after the first, so 9 s at best (200 messages/s across the workspace).
  users.lookupByEmail and conversations.open are Tier 3 (50+ per minute per workspace):
  hence the users-by-email and DM caches, and shared pauses on their 429s.
- the machine: the same 2,000 posts sent straight through the adapter, unpaced, with as
  many threads as the deliverer has workers (no database).

Last, the cost of picking the next conversations once the outbox has history (20,000
conversations, 100,000 sent messages, the 2,000 pending again): the claim's pick as it
is (stepping through the conversations with pending messages), interleaved with probing
every conversation for a pending message.

    python bench/bench_delivery.py        # OSCBOT_BENCH_POSTGRES_URL to point elsewhere
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg
from sqlalchemy import Engine, event, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import percentile
from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.messages import Message
from handlers.slack.chat import SlackChat
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.outbox import _PICK_POSTGRES, _PICK_SQLITE, SqlOutbox
from tests.fakes.slack_api import TOKEN, FakeSlack

POSTGRES = os.environ.get("OSCBOT_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
BACKLOG, CONVERSATIONS, SAMPLES = 2000, 200, 50
PER_CONVERSATION = BACKLOG // CONVERSATIONS
SLACK_FLOOR = PER_CONVERSATION - 1.0  # seconds: one message a second per channel
KINDS = ("lead", "floor", "reminder")
WORKERS = int(os.environ.get("OSCBOT_DELIVERY_WORKERS", "8"))  # the production default


class WallClock:
    """The real clock."""

    def now(self) -> datetime:
        """Now, UTC."""
        return datetime.now(UTC)


def serve_fake(ready: Any, stop: Any) -> None:
    """The fake Slack in its own process (its work is Slack's, not ours), with the
    people and channels the benchmark uses."""
    with FakeSlack() as slack:
        for kind in KINDS:
            for n in range(SAMPLES):
                slack.add_user(f"{kind}{n}@example.com", f"U{kind.upper()}{n}")
        for n in range(CONVERSATIONS):
            slack.add_channel(f"C{n:04d}", f"community-{n}")
        ready.put(slack.url)
        stop.wait()


class History:
    """Asks the fake Slack (conversations.history, metadata included) whether a message
    with a given outbox key arrived."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host = parts.netloc
        self._path = parts.path

    def arrived(self, channel: str, key: str) -> bool:
        """True once the conversation holds the message with this key."""
        # A connection per question, as the Slack client does: on a kept-alive one the
        # fake's answer (headers, then body) meets delayed ACKs, 40 ms a time.
        connection = http.client.HTTPConnection(self._host)
        connection.request(
            "POST", f"{self._path}conversations.history",
            body=urlencode({"channel": channel, "include_all_metadata": "true"}).encode(),
            headers={"Authorization": f"Bearer {TOKEN}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        answer = json.loads(connection.getresponse().read())
        connection.close()
        return any((m.get("metadata") or {}).get("event_payload", {}).get("key") == key
                   for m in answer.get("messages") or ())


def main() -> None:
    """Run the benchmark in a throwaway database, the fake Slack in its own process."""
    name = f"oscbot_bench_{uuid.uuid4().hex[:8]}"
    base = POSTGRES.rsplit("/", 1)[0]
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    ready: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    fake = multiprocessing.Process(target=serve_fake, args=(ready, stop), daemon=True)
    fake.start()
    try:
        run(f"{base}/{name}", str(ready.get(timeout=30)))
    finally:
        stop.set()
        fake.join(10)
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_floor(url: str) -> float:
    """Seconds to send the backlog straight through the adapter, unpaced, no database,
    with as many threads as the deliverer has workers."""
    chat = SlackChat(token=TOKEN, api_url=url, names={})
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda n: chat.post(channel=f"C{n % CONVERSATIONS:04d}",
                                          message=Message(f"bare {n}"), key=f"bare:{n}"),
                      range(BACKLOG)))
    return time.monotonic() - started


def run(url: str, slack_url: str) -> None:
    """Queue the backlog, deliver it, time DMs queued meanwhile, print the numbers."""
    upgrade(url)
    engine = engine_from_url(url)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        if threading.current_thread().name.startswith("deliver"):
            statements[0] += 1  # the delivery loop and its workers only

    clock = WallClock()
    outbox = SqlOutbox(engine)
    notifier = Notifier(outbox=outbox, clock=clock, channel="C-team")
    history = History(slack_url)
    floor_chat = SlackChat(token=TOKEN, api_url=slack_url, names={})
    delivery = OutboxDelivery(outbox=outbox, clock=clock, workers=WORKERS,
                              chat=SlackChat(token=TOKEN, api_url=slack_url, names={}))
    bare = machine_floor(slack_url)
    for n in range(BACKLOG):
        notifier.post(key=f"backlog:{n}", message=Message(f"backlog {n}"),
                      channel=f"C{n % CONVERSATIONS:04d}")
    stop = threading.Event()
    cpu = time.process_time()
    started = time.monotonic()
    loop = threading.Thread(target=delivery.run, args=(stop,), name="deliver-loop")
    loop.start()
    drained: list[float] = []
    watcher = threading.Thread(target=watch, args=(outbox, started, drained))
    watcher.start()
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for n in range(SAMPLES):
        for kind in KINDS:
            email, t0 = f"{kind}{n}@example.com", time.monotonic()
            if kind == "floor":
                floor_chat.direct(email=email, message=Message(f"floor {n}"),
                                  key=f"floor:{n}")
            else:
                key = f"{'lead-card' if kind == 'lead' else 'reminder'}:{n}"
                notifier.direct(key=key, email=email, message=Message(f"{kind} {n}"))
                delivery.kick()
                while not history.arrived(f"DU{kind.upper()}{n}", key):
                    time.sleep(0.002)
            if not drained:  # only samples taken while the backlog drains count
                times[kind].append(time.monotonic() - t0)
            time.sleep(0.03)
    watcher.join()
    cpu = time.process_time() - cpu
    sent = outbox.counts()["sent"]
    stop.set()
    loop.join(30)
    report(times, drained[0], bare, statements[0] / sent)
    print(f"CPU of this process (delivery, intake of the DMs, the timing) while it drained: "
          f"{cpu:.1f} s over {drained[0]:.1f} s")
    pick_cost(engine)
    engine.dispose()


def pick_cost(engine: Engine) -> None:
    """Time the claim's pick on an outbox with history, against the previous pick."""
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO outbox_channels (channel) SELECT 'dm:p' || g || '@example.com' "
            "FROM generate_series(1, 20000) g"))
        connection.execute(text(
            "INSERT INTO outbox (key, target_kind, target, message, status, created_at, "
            "attempts, last_error, channel, in_flight, priority) SELECT 'old:' || g, "
            "'direct', 'p' || g % 20000 || '@example.com', '{}'::json, 'sent', now(), 1, "
            "'', 'dm:p' || g % 20000 || '@example.com', false, 0 "
            "FROM generate_series(1, 100000) g"))
        connection.execute(text(
            "UPDATE outbox SET status = 'pending' WHERE key LIKE 'backlog:%'"))
        connection.execute(text("UPDATE outbox_channels SET next_send_at = NULL"))
        connection.execute(text("ANALYZE"))
    # The pick as it is, against probing every conversation (the pick SQLite keeps).
    queries = {"now": text(_PICK_POSTGRES), "previous": text(_PICK_SQLITE)}
    times: dict[str, list[float]] = {name: [] for name in queries}
    params = {"now": datetime.now(UTC), "limit": WORKERS}
    with engine.connect() as connection:
        for _ in range(5):
            for name, query in queries.items():
                t0 = time.monotonic()
                picked = connection.execute(query, params).all()
                times[name].append(time.monotonic() - t0)
                assert len(picked) == WORKERS
    now, previous = (sorted(times[n])[2] * 1000 for n in ("now", "previous"))
    print(f"picking {WORKERS} conversations among 20,000 (100,000 sent, 2,000 pending): "
          f"median {now:.1f} ms; probing every conversation {previous:.0f} ms (ratio "
          f"{previous / now:.0f}x)")


def watch(outbox: SqlOutbox, started: float, drained: list[float]) -> None:
    """Note when nothing is pending any more."""
    while outbox.counts()["pending"]:
        time.sleep(0.02)
    drained.append(time.monotonic() - started)


def report(times: dict[str, list[float]], drained: float, bare: float,
           per_message: float) -> None:
    """Print the numbers and ratios."""
    ms = {kind: sorted(t * 1000 for t in values) for kind, values in times.items()}
    floor50, floor99 = percentile(ms["floor"], 0.5), percentile(ms["floor"], 0.99)
    print(f"backlog {BACKLOG} messages over {CONVERSATIONS} conversations "
          f"({PER_CONVERSATION} each), {WORKERS} delivery workers; DMs queued while it "
          f"drains: {len(ms['lead'])} of each kind, interleaved with the floor")
    for kind, label in (("lead", "new lead DM (urgent)"), ("reminder", "reminder DM")):
        p50, p99 = percentile(ms[kind], 0.5), percentile(ms[kind], 0.99)
        print(f"{label}: queued -> in Slack p50 {p50:.0f} ms, p99 {p99:.0f} ms; floor "
              f"(bare DM) p50 {floor50:.0f} ms, p99 {floor99:.0f} ms; ratio p50 "
              f"{p50 / floor50:.1f}x, p99 {p99 / floor99:.1f}x")
    print(f"backlog drained in {drained:.1f} s; Slack's documented limit (chat.postMessage "
          f"about 1 message/s per channel, short bursts allowed, plus an unquantified "
          f"workspace limit) allows {SLACK_FLOOR:.0f} s at best (ratio "
          f"{drained / SLACK_FLOOR:.2f}x); the machine sends the same posts bare, unpaced, "
          f"in {bare:.1f} s")
    print(f"SQL statements per message delivered: {per_message:.1f}")


if __name__ == "__main__":
    main()
