"""Three `oscbot run` replicas on one PostgreSQL database take 2,000 signed leads spread
across them, against a fake Slack that answers 429 to every fifth call and sits on some
posts until the client times out (after storing them). Mid-run one replica is killed with
SIGKILL and restarted while PostgreSQL drops every connection; then each replica in turn
gets SIGTERM (it must exit 0 within its grace period) and is restarted; then every
connection is dropped again. The SIGKILL and the rolling restart share one run of 2,000
leads (two runs would not fit CI's time on a 2-core machine).

Counted at the end: every accepted lead stored once with exactly one DM; every
uncontacted lead one alert and one escalation; nothing failed or left queued; no job
slot run twice; each conversation's messages in the order they were queued.

To fit CI, the CRM reports a call on seven leads in eight once their DM has arrived
(their cards are edited to "called"); the other 250 stay uncontacted and are alerted
and escalated. (tests/bot/delivery/test_revise_race.py covers a call reported while its DM is
being sent.) Test-only settings: a 60 s speed to lead and 75 s
escalation, twelve more counselors (leads spread over 14 DM conversations), 20 ms
between messages of one conversation, a Retry-After of 0.1 s on the 429s, jobs every
few seconds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from handlers.http.server import SHUTDOWN_GRACE
from tests.cluster.harness import (
    Replica,
    cluster,
    communities,
    send_contact,
    send_lead,
    slack_users,
    team_config,
)
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.slow

LEADS = 2000
UNCONTACTED_EVERY = 8
SETTLE = 240.0
SENDERS = 8
MANAGER = "dana@riverside-homes.example"
# Marks: how many leads were accepted when a fault is due.
Marks = dict[int, threading.Event]


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


def unsent(database_url: str) -> int:
    """Outbox items not (yet) sent."""
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT count(*) FROM outbox WHERE status <> 'sent'").fetchone()
    return int(row[0]) if row else -1


def settle(slack: FakeSlack, database_url: str, wanted: set[str]) -> Counter[str]:
    """Wait until every wanted key arrived and the outbox is empty (or time runs out)."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        counts, _ = keys_in_slack(slack)
        if wanted <= set(counts) and unsent(database_url) == 0:
            time.sleep(2)  # anything sent twice would show up now
            break
        time.sleep(1)
    return keys_in_slack(slack)[0]


def send_all(nodes: list[Replica], slack: FakeSlack, places: list[str],
             marks: Marks) -> dict[int, bool]:
    """Send the leads from several clients; once a lead's DM has arrived, the CRM reports
    a call on it, except on every eighth lead. Sets `marks[k]` once k leads were
    accepted. Lead id -> contacted."""
    accepted: dict[int, bool] = {}
    to_call: set[int] = set()
    lock = threading.Lock()
    sending = threading.Event()
    sending.set()

    def one(n: int) -> None:
        lead_id = send_lead(nodes, n, community=places[n % len(places)])
        contacted = n % UNCONTACTED_EVERY != 0
        with lock:
            accepted[lead_id] = contacted
            if contacted:
                to_call.add(lead_id)
            if len(accepted) in marks:
                marks[len(accepted)].set()

    def caller() -> None:
        # The OSC calls back after seeing the DM (the card is then sent or in flight).
        with ThreadPoolExecutor(4) as calls:
            while True:
                with lock:
                    waiting, done = set(to_call), not sending.is_set()
                if not waiting and done:
                    return
                arrived, _ = keys_in_slack(slack)
                ready = {i for i in waiting if arrived[f"lead-card:{i}"]}
                with lock:
                    to_call.difference_update(ready)
                list(calls.map(lambda i: send_contact(nodes, i, MANAGER), ready))
                time.sleep(0.5)

    calling = threading.Thread(target=caller)
    calling.start()
    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(one, range(LEADS)))
    finally:
        sending.clear()
        calling.join(SETTLE)
    assert not calling.is_alive(), "some DMs never arrived, so their calls were not reported"
    return accepted


def faults(nodes: list[Replica], marks: Marks, database_url: str) -> int:
    """Mid-run: SIGKILL a replica and drop every connection, start it again; then each
    replica in turn gets SIGTERM, must exit 0 within its grace period, and is started
    again; then every connection is dropped once more. How many connections were
    dropped."""
    assert marks[LEADS // 5].wait(300), "leads are not getting through"
    nodes[1].kill()
    dropped = drop_connections(database_url)
    nodes[1].start()
    nodes[1].wait_ready()
    assert nodes[1].exits == [-9]
    for n, node in enumerate(nodes):
        assert marks[(n + 2) * LEADS // 5].wait(300), "leads are not getting through"
        began = time.monotonic()
        assert node.terminate(timeout=SHUTDOWN_GRACE + 20) == 0, node.log()
        # The grace period, plus the interpreter's own exit on a loaded machine.
        assert time.monotonic() - began < SHUTDOWN_GRACE + 10
        node.start()
        node.wait_ready()
    return dropped + drop_connections(database_url)


def test_2000_leads_once_under_sigkill_rolling_sigterm_dropped_connections_429s_and_timeouts(
        tmp_path: Path, fresh_postgres: str) -> None:
    database_url = fresh_postgres
    config = team_config(tmp_path, oscs=12, speed_to_lead="60s", escalate_after="75s")
    with FakeSlack() as slack:
        slack_users(slack, config)
        slack.rate_limit_every, slack.rate_limit_retry_after = 5, 0.1
        slack.stall_every, slack.stall_seconds = 40, 1.5
        # Unpaced: a busy conversation goes out in runs of claimed messages, so a kill
        # or a dropped connection can leave several of them in flight at once.
        with cluster(tmp_path, database_url, slack.url, config, SLACK_TIMEOUT="1",
                     OSCBOT_CHANNEL_INTERVAL_MS="0",
                     OSCBOT_JOB_EVERY="sweep_leads=2,deliver_outbox=2,coverage_tick=10",
                     ) as nodes:
            marks = {k: threading.Event() for k in range(LEADS // 5, LEADS, LEADS // 5)}
            sender = ThreadPoolExecutor(1)
            sent = sender.submit(send_all, nodes, slack, communities(config), marks)
            try:
                dropped = faults(nodes, marks, database_url)
            finally:
                leads = sent.result(timeout=600)
                sender.shutdown()
            uncontacted = [i for i, contacted in leads.items() if not contacted]
            wanted = ({f"lead-card:{i}" for i in leads}
                      | {f"{kind}:{i}" for i in uncontacted
                         for kind in ("lead-alert", "lead-escalation")})
            arrived = settle(slack, database_url, wanted)
            with psycopg.connect(database_url) as db:
                stored = db.execute("SELECT count(*), count(DISTINCT external_id) "
                                    "FROM leads").fetchone()
                contacted = db.execute("SELECT count(*) FROM leads "
                                       "WHERE status = 'contacted'").fetchone()
                double_slots = db.execute(
                    "SELECT job, slot FROM job_runs GROUP BY job, slot "
                    "HAVING count(*) > 1").fetchall()
                sweepers = db.execute("SELECT count(DISTINCT owner) FROM job_runs "
                                      "WHERE job = 'sweep_leads'").fetchone()
                left = db.execute("SELECT key, status, attempts, last_error FROM outbox "
                                  "WHERE status <> 'sent' LIMIT 5").fetchall()
                queued: dict[str, int] = dict(
                    db.execute("SELECT key, id FROM outbox").fetchall())
    assert dropped > 0
    assert len(leads) == LEADS and len(uncontacted) == LEADS // UNCONTACTED_EVERY
    assert stored == (LEADS, LEADS)
    assert contacted == (LEADS - len(uncontacted),)
    assert left == []
    assert [i for i in leads if arrived[f"lead-card:{i}"] != 1] == []
    for kind in ("lead-alert", "lead-escalation"):
        assert [i for i in uncontacted if arrived[f"{kind}:{i}"] != 1] == [], kind
    assert [k for k, n in arrived.items() if n > 1] == []
    assert double_slots == []
    assert sweepers is not None and sweepers[0] >= 2  # the work was shared
    _, order = keys_in_slack(slack)
    for channel, keys in order.items():
        ids_in_order = [queued[k] for k in keys]
        assert ids_in_order == sorted(ids_in_order), channel
    # The faults happened: 429s and timeouts, and lookups of the ambiguous sends.
    assert slack.attempts("chat.postMessage") > len(arrived)
    assert slack.attempts("conversations.history") > 0

