"""Lead intake and lead -> DM latency with one and with three `oscbot run` replicas on
one PostgreSQL database, against the fake Slack over HTTP (no injected faults).

    python bench/bench_replicas.py      # OSCBOT_BENCH_POSTGRES_URL to point elsewhere
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import percentile
from tests.cluster.harness import cluster, send_lead, slack_users, team_config
from tests.fakes.slack_api import FakeSlack

POSTGRES = os.environ.get("OSCBOT_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
LEADS, CLIENTS = 200, 8


def measure(replicas: int) -> tuple[float, float, float]:
    """(leads accepted per second, lead -> DM p50 and p99 in seconds)."""
    name = f"oscbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
    try:
        with tempfile.TemporaryDirectory() as folder, FakeSlack() as slack:
            config = team_config(Path(folder))
            slack_users(slack, config)
            # Unpaced: this measures oscbot, not Slack's one message a second per person
            # (the example team's leads all go to two OSCs).
            with cluster(Path(folder), url, slack, config, replicas=replicas,
                         OSCBOT_CHANNEL_INTERVAL_MS="0") as nodes:
                accepted: dict[int, float] = {}
                arrived: dict[int, float] = {}
                stop = threading.Event()

                def watch() -> None:
                    while not stop.is_set():
                        for channel in list(slack.history):
                            for message in slack.history_of(channel):
                                key = (message.get("metadata") or {}).get(
                                    "event_payload", {}).get("key", "")
                                if key.startswith("lead-card:"):
                                    arrived.setdefault(int(key.split(":")[1]),
                                                       time.monotonic())
                        time.sleep(0.01)

                watcher = threading.Thread(target=watch)
                watcher.start()

                def one(n: int) -> None:
                    lead_id = send_lead(nodes, n)
                    accepted[lead_id] = time.monotonic()

                started = time.monotonic()
                with ThreadPoolExecutor(CLIENTS) as pool:
                    list(pool.map(one, range(LEADS)))
                rate = LEADS / (time.monotonic() - started)
                deadline = time.monotonic() + 120
                while len(arrived) < LEADS and time.monotonic() < deadline:
                    time.sleep(0.1)
                stop.set()
                watcher.join()
        latencies = sorted(arrived[i] - accepted[i] for i in accepted if i in arrived)
        return rate, percentile(latencies, 0.5), percentile(latencies, 0.99)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    results = {n: measure(n) for n in (1, 3)}
    for n, (rate, p50, p99) in results.items():
        print(f"{n} replica(s): {rate:.0f} leads/s accepted ({CLIENTS} clients, {LEADS} "
              f"leads); lead -> DM p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    print(f"3 vs 1: intake {results[3][0] / results[1][0]:.2f}x, "
          f"DM p99 {results[3][2] / results[1][2]:.2f}x")


if __name__ == "__main__":
    main()
