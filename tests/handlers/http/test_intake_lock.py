"""A request waiting on a database lock never stalls the server: the event loop stays
free while the activities endpoint waits for SQLite's write lock."""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.config.model import AppConfig
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.model import Lead
from handlers.http.app import create_app
from handlers.http.signing import signed_headers
from handlers.wiring import build_context
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.handlers.slack.test_app import Server

SECRET = "lock-secret"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)


def test_healthz_answers_fast_while_an_activity_waits_on_a_write_lock(
        tmp_path: Path, config: AppConfig) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    repos = sql_repositories(engine_from_url(url))
    lead, _ = repos.leads.add(Lead(
        id=None, source="web", external_id="l-1", name="Pat", email=None,
        phone="+15125550100", community="Riverside", message="", received_at=T0,
        owner_email="maria@rh.example", assigned_to="maria@rh.example",
        assignment_reason="test"))
    ctx = build_context(config=config, repos=repos, clock=FixedClock(T0), chat=RecordingChat(),
                        sources={}, sleep=lambda _: None)
    body = json.dumps({"kind": "call", "direction": "outbound",
                       "by": "maria@rh.example"}).encode()
    activity_path = f"/leads/{lead.id}/activities"
    answers: list[int] = []

    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    with Server(create_app(ctx, lead_secret=SECRET)) as base, \
            httpx.Client(base_url=base, timeout=1) as http:
        http.get("/healthz")  # warm up the connection pool
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            waiting = threading.Thread(target=lambda: answers.append(httpx.post(
                f"{base}{activity_path}", content=body, timeout=60, headers=signed_headers(
                    SECRET, path=activity_path, body=body,
                    t=int(T0.timestamp()))).status_code))
            waiting.start()
            time.sleep(0.3)  # the activity request is now blocked on the lock
            latencies = []
            for _ in range(7):
                began = time.perf_counter()
                assert http.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - began)
            assert not answers, "the activity should still be waiting for the lock"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        waiting.join(30)
    print(f"\n/healthz during the lock: median {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    assert statistics.median(latencies) < 0.050
    assert answers == [202]
    assert repos.leads.get(lead.id or 0).status.value == "contacted"
