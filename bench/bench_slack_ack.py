"""HTTP ack latency of signed `/coverage` slash commands with 20 concurrent clients.

The server (the real FastAPI + Bolt app on SQLite, a local fake Slack Web API) runs
in its own process; the clients run here. Target (issue: Slack app): p99 < 100 ms.
Run: .venv/bin/python bench/bench_slack_ack.py
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from harness import percentile, serve_app, server_process, wrk

from bot.config.examples import EXAMPLES as EXAMPLES_DIR

SECRET = "bench-signing-secret"
CLIENTS, REQUESTS_EACH = 20, 50


def serve(port: int, ready: Any) -> None:
    """The server process: example team, SQLite, fake Slack API, uvicorn."""

    from bot.config.loader import load_config
    from bot.fakes.clock import FixedClock
    from bot.model import AbsenceKind
    from handlers.http.app import create_app
    from handlers.slack.app import build_slack_app
    from handlers.slack.chat import SlackChat
    from handlers.wiring import build_context, calendar_sources
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories
    from tests.fakes.slack_api import TOKEN, FakeSlack

    examples = EXAMPLES_DIR
    config = load_config(examples / "app.yaml", env={})
    folder = tempfile.mkdtemp()
    url = f"sqlite:///{folder}/bench.db"
    upgrade(url)
    slack = FakeSlack().__enter__()
    slack.add_user("dana@riverside-homes.example", "UDANA")
    clock = FixedClock(datetime(2026, 11, 30, 14, tzinfo=UTC))
    ctx = build_context(config=config, repos=sql_repositories(engine_from_url(url)),
                        clock=clock, chat=SlackChat(token=TOKEN, api_url=slack.url, names={}),
                        sources=calendar_sources(config, base=examples))
    ctx.coverage.declare(osc_email="maria@riverside-homes.example",
                         start=clock.now() + timedelta(days=1),
                         end=clock.now() + timedelta(days=5), kind=AbsenceKind.VACATION,
                         actor="maria@riverside-homes.example")
    app = create_app(ctx, lead_secret=None, slack=build_slack_app(
        ctx, token=TOKEN, signing_secret=SECRET, api_url=slack.url))
    serve_app(app, port, ready)


def signed_command() -> tuple[str, dict[str, str]]:
    body = urlencode({"command": "/coverage", "text": "", "user_id": "UDANA",
                      "team_id": "T1", "channel_id": "C1", "trigger_id": "1.2.3",
                      "response_url": "https://hooks.slack.com/x", "api_app_id": "A1"})
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return body, {"X-Slack-Request-Timestamp": stamp,
                  "X-Slack-Signature": "v0=" + digest.hexdigest(),
                  "Content-Type": "application/x-www-form-urlencoded"}


async def load(base: str) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=10) as client:
        async def worker() -> None:
            for _ in range(REQUESTS_EACH):
                body, headers = signed_command()
                began = time.perf_counter()
                answer = await client.post(f"{base}/slack/events", content=body,
                                           headers=headers)
                latencies.append(time.perf_counter() - began)
                assert answer.status_code == 200, answer.text

        await worker()  # warm-up: caches, first SQL compile
        latencies.clear()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return latencies


def with_wrk(base: str) -> str | None:
    """The same command driven by wrk, a C load generator: the numbers then measure the
    server, not a Python client sharing its two cores."""
    body, headers = signed_command()  # the signature stays valid for 5 minutes
    lua = f"wrk.method = 'POST'\nwrk.body = {json.dumps(body)}\n" + "".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    return wrk(f"{base}/slack/events", lua, connections=CLIENTS, seconds=10)


def main() -> None:
    """Start the server process, load it, print percentiles."""
    with server_process(serve) as base:
        latencies = sorted(asyncio.run(load(base)))
        report = with_wrk(base)
    ms = [x * 1000 for x in latencies]
    print(f"{len(ms)} signed /coverage commands, {CLIENTS} concurrent clients")
    print(f"python clients (same 2 cores): p50 {statistics.median(ms):.1f} ms, "
          f"p90 {percentile(ms, 0.90):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
          f"max {ms[-1]:.1f} ms")
    if report:
        print(f"wrk, {CLIENTS} connections for 10 s (target p99 < 100 ms):")
        print(report)


if __name__ == "__main__":
    main()
