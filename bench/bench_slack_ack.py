"""HTTP ack latency of signed `/coverage` slash commands with 20 concurrent clients.

The server (the real FastAPI + Bolt app on SQLite, a local fake Slack Web API) runs
in its own process; the clients run here. Target (issue: Slack app): p99 < 100 ms.
Run: .venv/bin/python bench/bench_slack_ack.py
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

SECRET = "bench-signing-secret"
CLIENTS, REQUESTS_EACH = 20, 50


def serve(port: int, ready: multiprocessing.synchronize.Event) -> None:
    """The server process: example team, SQLite, fake Slack API, uvicorn."""
    import uvicorn

    from bot.config_loader import load_config
    from bot.fakes import FixedClock
    from bot.model import AbsenceKind
    from handlers.context import build_context, calendar_sources
    from handlers.http.app import create_app
    from handlers.slack.app import build_slack_app
    from handlers.slack.chat import SlackChat
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories
    from tests.fakes.slack_api import TOKEN, FakeSlack

    examples = Path(__file__).resolve().parents[1] / "examples"
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
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error", lifespan="off"))

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        ready.set()
        await task

    asyncio.run(run())


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
    """Drive the load with wrk (a C load generator) when it is installed: the numbers
    then measure the server, not a Python client sharing its two cores."""
    import json
    import shutil
    import subprocess

    if shutil.which("wrk") is None:
        return None
    body, headers = signed_command()  # the signature stays valid for 5 minutes
    script = Path(tempfile.mkdtemp()) / "coverage.lua"
    script.write_text(f"wrk.method = 'POST'\nwrk.body = {json.dumps(body)}\n" + "".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items()))
    result = subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", "-d10s", "--latency", "-s",
                             str(script), f"{base}/slack/events"],
                            capture_output=True, text=True, check=True)
    return result.stdout


def main() -> None:
    """Start the server process, load it, print percentiles."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=serve, args=(port, ready), daemon=True)
    process.start()
    try:
        if not ready.wait(60):
            raise SystemExit("server did not start")
        latencies = sorted(asyncio.run(load(f"http://127.0.0.1:{port}")))
        report = with_wrk(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.join(5)
    ms = [x * 1000 for x in latencies]
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    print(f"{len(ms)} signed /coverage commands, {CLIENTS} concurrent clients")
    print(f"python clients (same 2 cores): p50 {statistics.median(ms):.1f} ms, "
          f"p90 {p(0.90):.1f} ms, p99 {p(0.99):.1f} ms, max {ms[-1]:.1f} ms")
    if report:
        print(f"wrk, {CLIENTS} connections for 10 s (target p99 < 100 ms):")
        print(report)


if __name__ == "__main__":
    main()
