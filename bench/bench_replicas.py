"""Lead intake and lead -> DM latency with one and with three `oscbot run` replicas on
one PostgreSQL database, against the fake Slack over HTTP (no injected faults).

    python bench/bench_replicas.py      # OSCBOT_BENCH_POSTGRES_URL to point elsewhere

Signed leads come from 16 client threads sharing one keep-alive HTTP client, round-robin
over the replicas. The team is the example one plus twelve counselors (14 DM
conversations), so a burst is not one person's queue. Lead -> DM runs from the moment a
lead is sent to the moment the fake Slack stored its card (the message's own timestamp),
read after the run: nothing polls the fake while it serves.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import percentile
from tests.cluster.harness import cluster, communities, send_lead, slack_users, team_config
from tests.fakes.slack_api import FakeSlack

POSTGRES = os.environ.get("OSCBOT_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
LEADS, CLIENTS = int(os.environ.get("OSCBOT_BENCH_LEADS", "600")), 16
DRAIN = 180.0


def card_times(slack: FakeSlack) -> dict[int, float]:
    """Lead id -> when its card reached the fake Slack (first copy)."""
    arrived: dict[int, float] = {}
    for channel in list(slack.history):
        for message in slack.history_of(channel):
            key = str((message.get("metadata") or {}).get("event_payload", {}).get("key", ""))
            if key.startswith("lead-card:"):
                arrived.setdefault(int(key.split(":")[1]), float(message["ts"]))
    return arrived


def measure(replicas: int) -> tuple[float, float, float]:
    """(leads accepted per second, lead -> DM p50 and p99 in seconds)."""
    name = f"oscbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
    try:
        with tempfile.TemporaryDirectory() as folder, FakeSlack() as slack:
            config = team_config(Path(folder), oscs=12)
            places = communities(config)
            slack_users(slack, config)
            # Unpaced: this measures oscbot, not Slack's one message a second per
            # conversation.
            with cluster(Path(folder), url, slack, config, replicas=replicas,
                         OSCBOT_CHANNEL_INTERVAL_MS="0") as nodes:
                sent: dict[int, float] = {}

                def one(n: int) -> None:
                    began = time.time()
                    sent[send_lead(nodes, n, community=places[n % len(places)])] = began

                started = time.monotonic()
                with ThreadPoolExecutor(CLIENTS) as pool:
                    list(pool.map(one, range(LEADS)))
                rate = LEADS / (time.monotonic() - started)
                deadline = time.monotonic() + DRAIN
                while len(card_times(slack)) < LEADS and time.monotonic() < deadline:
                    time.sleep(0.5)
                arrived = card_times(slack)
        missing = [i for i in sent if i not in arrived]
        if missing:
            raise SystemExit(f"{len(missing)} cards never arrived with {replicas} replicas")
        latencies = sorted(arrived[i] - sent[i] for i in sent)
        return rate, percentile(latencies, 0.5), percentile(latencies, 0.99)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Measure 1 then 3 replicas and print them side by side with the ratios."""
    results = {n: measure(n) for n in (1, 3)}
    for n, (rate, p50, p99) in results.items():
        print(f"{n} replica(s): {rate:.0f} leads/s accepted ({CLIENTS} clients, {LEADS} "
              f"leads); lead -> DM p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    intake = results[3][0] / results[1][0]
    p99 = results[3][2] / results[1][2]
    print(f"3 vs 1: intake {intake:.2f}x, DM p99 {p99:.2f}x "
          f"({'3 replicas are not slower' if intake >= 1 and p99 <= 1 else 'SLOWER with 3'})")


if __name__ == "__main__":
    main()
