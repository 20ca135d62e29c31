"""Three `oscbot run` replicas on one PostgreSQL database, a fake Slack that answers 429
to every fifth call and sits on some posts until the client times out (after storing
them), one replica killed with SIGKILL or restarted in turn with SIGTERM, and every
database connection dropped mid-run. Counted at the end: every accepted lead stored once
with exactly one DM, one alert and one escalation; no job slot run twice; each
conversation's messages in the order they were queued."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from tests.cluster.harness import Replica, cluster, send_lead, slack_users, team_config
from tests.fakes.slack_api import FakeSlack

LEADS = 60
SETTLE = 120.0


def drop_connections(database_url: str) -> int:
    """pg_terminate_backend on every other connection to the database."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
    return len(rows)


def keys_in_slack(slack: FakeSlack) -> tuple[Counter[str], dict[str, list[str]]]:
    """Every outbox key that arrived (with repeats) and, per conversation, keys in order."""
    counts: Counter[str] = Counter()
    order: dict[str, list[str]] = {}
    for channel in list(slack.history):
        keys = [m["metadata"]["event_payload"]["key"] for m in slack.history_of(channel)
                if m.get("metadata")]
        counts.update(keys)
        order[channel] = keys
    return counts, order


def settle(slack: FakeSlack, ids: list[int]) -> Counter[str]:
    """Wait until each lead's DM, alert and escalation arrived (or time runs out)."""
    wanted = {f"{kind}:{i}" for i in ids
              for kind in ("lead-card", "lead-alert", "lead-escalation")}
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        counts, _ = keys_in_slack(slack)
        if wanted <= set(counts):
            time.sleep(2)  # anything sent twice would show up now
            return keys_in_slack(slack)[0]
        time.sleep(0.5)
    return keys_in_slack(slack)[0]


def send_all(nodes: list[Replica], marks: dict[int, threading.Event]) -> list[int]:
    """Send the leads from four clients; set `marks[k]` once k of them were accepted."""
    accepted: list[int] = []
    lock = threading.Lock()

    def one(n: int) -> int:
        lead_id = send_lead(nodes, n)
        with lock:
            accepted.append(lead_id)
            if len(accepted) in marks:
                marks[len(accepted)].set()
        return lead_id

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(LEADS)))


def test_every_lead_once_under_kills_restarts_dropped_connections_and_429s(
        tmp_path: Path, postgres_url: str) -> None:
    config = team_config(tmp_path, speed_to_lead="2s", escalate_after="4s")
    with FakeSlack() as slack:
        slack_users(slack, config)
        slack.rate_limit_every = 5
        slack.stall_every, slack.stall_seconds = 40, 1.5
        with cluster(tmp_path, postgres_url, slack, config, SLACK_TIMEOUT="1",
                     OSCBOT_CHANNEL_INTERVAL_MS="20",
                     OSCBOT_JOB_EVERY="sweep_leads=2,deliver_outbox=2,coverage_tick=10",
                     ) as nodes:
            marks = {LEADS // 4: threading.Event(), LEADS // 2: threading.Event()}
            sender = ThreadPoolExecutor(1)
            sent = sender.submit(send_all, nodes, marks)
            assert marks[LEADS // 4].wait(90), "leads are not getting through"
            nodes[1].kill()  # SIGKILL mid-run, then back
            dropped = drop_connections(postgres_url)
            nodes[1].start()
            nodes[1].wait_ready()
            assert marks[LEADS // 2].wait(90)
            for node in nodes:  # rolling restart: each drains and exits 0 in turn
                assert node.terminate() == 0, node.log()
                node.start()
                node.wait_ready()
            dropped += drop_connections(postgres_url)
            ids = sent.result(timeout=120)
            sender.shutdown()
            arrived = settle(slack, ids)
            with psycopg.connect(postgres_url) as db:
                stored = db.execute("SELECT count(*), count(DISTINCT external_id) "
                                    "FROM leads").fetchone()
                double_slots = db.execute(
                    "SELECT job, slot FROM job_runs GROUP BY job, slot "
                    "HAVING count(*) > 1").fetchall()
                sweepers = db.execute("SELECT count(DISTINCT owner) FROM job_runs "
                                      "WHERE job = 'sweep_leads'").fetchone()
                queued = dict(db.execute("SELECT key, id FROM outbox").fetchall())
                states = {r[0]: r[1:] for r in db.execute(
                    "SELECT key, status, attempts, in_flight, last_error, next_attempt_at, "
                    "channel FROM outbox").fetchall()}
    assert dropped > 0
    assert stored == (LEADS, LEADS) and sorted(ids) == sorted(set(ids))
    for lead_id in ids:
        for kind in ("lead-card", "lead-alert", "lead-escalation"):
            key = f"{kind}:{lead_id}"
            assert arrived[key] == 1, (key, arrived[key], states.get(key))
    assert [k for k, n in arrived.items() if n > 1] == []
    assert double_slots == []
    assert sweepers is not None and sweepers[0] >= 2  # the work was shared
    _, order = keys_in_slack(slack)
    for channel, keys in order.items():
        ids_in_order = [queued[k] for k in keys]
        assert ids_in_order == sorted(ids_in_order), channel
    assert slack.attempts("chat.postMessage") > len(arrived)  # 429s and timeouts happened
