"""Lead intake and lead -> DM latency with one and with three `oscbot run` replicas on
one PostgreSQL database, against the fake Slack over HTTP (no injected faults).

    python bench/bench_replicas.py      # OSCBOT_BENCH_POSTGRES_URL to point elsewhere

Three loads, each run with 1 and with 3 replicas in turn (interleaved, `ROUNDS` times;
medians printed with the 3-vs-1 ratio), each after 64 leads that warm every replica up
(connection pools, first-use paths) and are not counted:

- saturated: 16 client threads send signed leads back to back: the most leads per
  second the cluster accepts, and the DM latency while it is saturated (on a small
  machine every process then queues for a core);
- steady, twice: the same leads sent on a fixed schedule (`OSCBOT_BENCH_RATES`, 40 and
  80 leads/s: a third of what one replica accepts, and most of it; open loop: latency
  counts from each lead's scheduled time, so a slow answer is not hidden by the next
  lead waiting for it), the DM latency at loads both can carry.

Each lead goes to the replica with the fewest requests in progress, as a least-connections
load balancer in front of them sends it. The team is the example one plus twelve
counselors (14 DM conversations; one counselor covers two communities and gets twice the
leads), so a burst is not one person's queue. Lead -> DM runs from the moment a lead is
sent to the moment the fake Slack stored its card (the message's own timestamp), and is
also shown split at the intake's answer. The fake runs in its own process, as Slack runs
on its own machines. Delivery is unpaced (`OSCBOT_CHANNEL_INTERVAL_MS=0`): this measures
oscbot, not Slack's one message a second per conversation. CPU is the replicas' own
(user + system) per lead.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import percentile, process_cpu_seconds
from tests.cluster.harness import Replica, cluster, communities, send_lead, slack_users, team_config
from tests.fakes.slack_api import FakeSlack

POSTGRES = os.environ.get("OSCBOT_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
LEADS, CLIENTS = int(os.environ.get("OSCBOT_BENCH_LEADS", "600")), 16
RATES = [float(r) for r in os.environ.get("OSCBOT_BENCH_RATES", "40,80").split(",")]
ROUNDS = int(os.environ.get("OSCBOT_BENCH_ROUNDS", "3"))
WARMUP = 64
DRAIN = 180.0


@dataclass(frozen=True)
class Run:
    """One measured run."""

    rate: float  # leads accepted per second
    p50: float  # lead -> DM, seconds
    p99: float
    answer_p99: float  # lead sent -> its 200 (intake alone)
    after_p99: float  # lead's 200 -> its card in Slack (delivery alone)
    cpu_ms: float  # replicas' CPU per lead


def card_times(slack: FakeSlack) -> dict[int, float]:
    """Lead id -> when its card reached the fake Slack (first copy)."""
    arrived: dict[int, float] = {}
    for channel in list(slack.history):
        for message in slack.history_of(channel):
            key = str((message.get("metadata") or {}).get("event_payload", {}).get("key", ""))
            if key.startswith("lead-card:"):
                arrived.setdefault(int(key.split(":")[1]), float(message["ts"]))
    return arrived


def serve_fake(config: Path, requests: Connection) -> None:
    """The fake Slack in its own process (its work is Slack's, not ours, and it must not
    queue for the same interpreter as the lead senders), with the team's people; answers
    each request with the cards it holds, until told to stop."""
    with FakeSlack() as slack:
        slack_users(slack, config)
        requests.send(slack.url)
        while requests.recv() != "stop":
            requests.send(card_times(slack))


def cpu_seconds(nodes: list[Replica]) -> float:
    """User + system CPU the replica processes have used so far (Linux)."""
    pids = [node.process.pid for node in nodes if node.process is not None]
    assert len(pids) == len(nodes)
    return sum(process_cpu_seconds(pid) for pid in pids)


def send_all(nodes: list[Replica], places: list[str], rate: float | None,
             numbers: range) -> tuple[dict[int, float], dict[int, float], float]:
    """Send the leads numbered `numbers` (back to back, or on a schedule of `rate` per
    second); returns lead id -> when it was sent (scheduled) and when it was accepted,
    and the seconds until the last was accepted."""
    sent: dict[int, float] = {}
    accepted: dict[int, float] = {}
    lock = threading.Lock()
    base = time.time() + 0.2
    # As a load balancer in front of the replicas does (least connections): each lead
    # goes to the replica with the fewest requests in progress.
    in_progress = [0] * len(nodes)

    def one(n: int) -> None:
        if rate is None:
            began = time.time()
        else:
            began = base + (n - numbers.start) / rate
            time.sleep(max(0.0, began - time.time()))
        with lock:
            least = min(range(len(nodes)), key=lambda k: (in_progress[k], (k - n) % len(nodes)))
            in_progress[least] += 1
        try:
            lead = send_lead(nodes, n, first=least - n, community=places[n % len(places)])
        finally:
            with lock:
                in_progress[least] -= 1
        with lock:
            sent[lead] = began
            accepted[lead] = time.time()

    started = time.time() if rate is None else base
    # Enough threads that a slow answer never holds back the schedule.
    with ThreadPoolExecutor(CLIENTS if rate is None else 64) as pool:
        list(pool.map(one, numbers))
    return sent, accepted, time.time() - started


def wait_for_cards(requests: Connection, count: int) -> dict[int, float]:
    """The cards in the fake Slack once it holds `count` (or `DRAIN` seconds passed)."""
    deadline = time.monotonic() + DRAIN
    while True:
        requests.send("cards")
        arrived: dict[int, float] = requests.recv()
        if len(arrived) >= count or time.monotonic() > deadline:
            return arrived
        time.sleep(0.2)


def fake_slack(config: Path) -> tuple[multiprocessing.Process, Connection]:
    """Start the fake Slack's process; the connection first yields its URL."""
    requests, theirs = multiprocessing.Pipe()
    fake = multiprocessing.Process(target=serve_fake, args=(config, theirs), daemon=True)
    fake.start()
    return fake, requests


def measure(replicas: int, rate: float | None) -> Run:
    """Start a cluster on a fresh database, send the leads, wait for every card."""
    name = f"oscbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = team_config(Path(folder), oscs=12)
            places = communities(config)
            fake, requests = fake_slack(config)
            try:
                with cluster(Path(folder), url, str(requests.recv()), config,
                             replicas=replicas, OSCBOT_CHANNEL_INTERVAL_MS="0") as nodes:
                    # Warm up every replica (its connection pools, first-use paths)
                    # with leads that are not measured.
                    send_all(nodes, places, None, range(LEADS, LEADS + WARMUP))
                    wait_for_cards(requests, WARMUP)
                    cpu_before = cpu_seconds(nodes)
                    sent, accepted, seconds = send_all(nodes, places, rate, range(LEADS))
                    arrived = wait_for_cards(requests, WARMUP + LEADS)
                    cpu = cpu_seconds(nodes) - cpu_before
            finally:
                requests.send("stop")
                fake.join(10)
        missing = [i for i in sent if i not in arrived]
        if missing:
            raise SystemExit(f"{len(missing)} cards never arrived with {replicas} replicas")
        latencies = sorted(arrived[i] - sent[i] for i in sent)
        answers = sorted(accepted[i] - sent[i] for i in sent)
        after = sorted(arrived[i] - accepted[i] for i in sent)
        return Run(LEADS / seconds, percentile(latencies, 0.5), percentile(latencies, 0.99),
                   percentile(answers, 0.99), percentile(after, 0.99), cpu / LEADS * 1000)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Each load with 1 then 3 replicas, `ROUNDS` times interleaved; medians and ratios."""
    loads: dict[str, float | None] = {"saturated": None,
                                      **{f"steady {rate:g}/s": rate for rate in RATES}}
    for label, rate in loads.items():
        runs: dict[int, list[Run]] = {1: [], 3: []}
        for _ in range(ROUNDS):
            for n in (1, 3):
                runs[n].append(measure(n, rate))
        medians = {n: Run(*(statistics.median(getattr(r, f) for r in rs)
                            for f in ("rate", "p50", "p99", "answer_p99", "after_p99",
                                      "cpu_ms")))
                   for n, rs in runs.items()}
        print(f"{label} ({LEADS} leads, median of {ROUNDS}):")
        for n, m in medians.items():
            print(f"  {n} replica(s): {m.rate:.0f} leads/s accepted; lead -> DM p50 "
                  f"{m.p50 * 1000:.0f} ms, p99 {m.p99 * 1000:.0f} ms (runs: "
                  f"{', '.join(f'{r.p99 * 1000:.0f}' for r in runs[n])}); of which the "
                  f"intake answer p99 {m.answer_p99 * 1000:.0f} ms, answer -> DM p99 "
                  f"{m.after_p99 * 1000:.0f} ms; replicas' CPU {m.cpu_ms:.1f} ms/lead")
        one, three = medians[1], medians[3]
        print(f"  3 vs 1: intake {three.rate / one.rate:.2f}x, DM p99 "
              f"{three.p99 / one.p99:.2f}x (answer {three.answer_p99 / one.answer_p99:.2f}x, "
              f"answer -> DM {three.after_p99 / one.after_p99:.2f}x), CPU/lead "
              f"{three.cpu_ms / one.cpu_ms:.2f}x")


if __name__ == "__main__":
    main()
