"""The two request paths next to their floors, driven by wrk, interleaved.

- signed `/coverage` slash command (the Slack ack path): oscbot's FastAPI + Bolt app on
  SQLite with the example team, against the floor: a bare Bolt AsyncApp whose
  `/coverage` listener acks a fixed text, mounted in FastAPI the same way;
- signed `POST /leads`, every lead new: oscbot's intake (validation, routing, audit,
  DM queued and kicked) against the floor: FastAPI + HMAC check + pydantic model + one
  SQLModel insert on SQLite.

Two more intake rows split its cost: `--intake-without-dm` (the DM goes to a recording
chat port instead of the fake Slack) and `--intake-queue-only` (delivery stands still in
the server: the request path alone).

Each pair of servers runs in processes of their own; wrk (a C client, so the numbers
are the servers') loads one at a time, ours then the floor, ROUNDS times. The table
gives median throughput and p99 and the ratios. Target (issue: fast at any size):
throughput at least 0.5x the floor, p99 at most 2x.
Needs wrk (Debian: apt-get install wrk). Run: .venv/bin/python bench/bench_request_paths.py
"""

from __future__ import annotations

import json
import multiprocessing
import re
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_leads
import bench_slack_ack
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from harness import cpu_seconds, serve_app, server_process, wrk

ROUNDS, SECONDS, CONNECTIONS = 3, 5, 20
LEADS_PER_ROUND = 12_000


def run_fake_slack(emails: list[str], address: Any, stop: Any) -> None:
    """The fake Slack Web API in a process of its own, so its work is not counted as
    oscbot's; sends its URL through `address`."""
    from tests.fakes.slack_api import FakeSlack

    with FakeSlack() as slack:
        for n, email in enumerate(emails):
            slack.add_user(email, f"U{n}")
        address.put(slack.url)
        stop.wait()


@contextmanager
def fake_slack(emails: list[str]) -> Iterator[str]:
    """A fake Slack in its own process; yields its Web API URL."""
    address: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    process = multiprocessing.Process(target=run_fake_slack, args=(emails, address, stop),
                                      daemon=True)
    process.start()
    try:
        yield str(address.get(timeout=60))
    finally:
        stop.set()
        process.join(5)


def serve_intake(port: int, slack_url: str, ready: Any) -> None:
    """oscbot's app with lead intake on SQLite, the bench team, DMs to `slack_url`."""
    from datetime import UTC, datetime

    from handlers.http.app import create_app
    from handlers.slack.chat import SlackChat
    from handlers.wiring import build_context
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories
    from tests.fakes.slack_api import TOKEN

    class Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    config: Any = bench_leads.bench_team()
    url = f"sqlite:///{tempfile.mkdtemp()}/leads.db"
    upgrade(url)
    chat: Any = SlackChat(token=TOKEN, api_url=slack_url,
                          names={p.email: p.name for p in config.people})
    if slack_url in ("", "queue only"):
        # --intake-without-dm: what the request path costs when the DM it queues is not
        # sent from this process (the share of delivery in the intake numbers).
        from bot.fakes.chat import RecordingChat

        chat = RecordingChat()
    ctx = build_context(config=config, repos=sql_repositories(engine_from_url(url)),
                        clock=Clock(), chat=chat, sources={})
    if slack_url == "queue only":
        # --intake-queue-only: the request path alone; the DM is committed to the outbox
        # and delivery in this process stands still (as if another replica delivered).
        ctx.delivery.halted_until = datetime(9999, 1, 1, tzinfo=UTC)
    # As `oscbot run` does: delivery runs in a thread of its own, and an intake's kick
    # only wakes it.
    threading.Thread(target=ctx.delivery.run, args=(threading.Event(),), name="delivery",
                     daemon=True).start()
    serve_app(create_app(ctx, lead_secret=bench_leads.SECRET), port, ready)


def serve_floor_ack(port: int, ready: Any) -> None:
    """A bare Bolt AsyncApp (same fake Slack, same secret) in FastAPI."""
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.fakes.slack_api import TOKEN, FakeSlack

    slack = FakeSlack().__enter__()
    bolt = AsyncApp(signing_secret=bench_slack_ack.SECRET,
                    client=AsyncWebClient(token=TOKEN, base_url=slack.url),
                    process_before_response=True)

    @bolt.command("/coverage")
    async def coverage(ack: AsyncAck) -> None:
        await ack(text="Nobody is out.")

    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    serve_app(api, port, ready)


def serve_floor_intake(port: int, ready: Any) -> None:
    """FastAPI + the HMAC check (the same `t.METHOD.path.body` scheme) + pydantic +
    one SQLModel insert on SQLite (WAL), off the event loop."""
    import asyncio
    from datetime import UTC, datetime

    from pydantic import BaseModel
    from sqlmodel import Session

    from handlers.http.signing import SIGNATURE_HEADER, verify
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.tables import LeadRow

    class Body(BaseModel):
        source: str
        external_id: str
        name: str
        phone: str | None = None
        community: str | None = None
        message: str = ""

    url = f"sqlite:///{tempfile.mkdtemp()}/floor.db"
    upgrade(url)
    engine = engine_from_url(url)
    api = FastAPI()

    def insert(body: Body) -> int:
        now = datetime.now(UTC)
        row = LeadRow(source=body.source, external_id=body.external_id, name=body.name,
                      phone=body.phone, community=body.community, message=body.message,
                      received_at=now, owner_email="osc0@b.example",
                      assigned_to="osc0@b.example", status="new")
        with Session(engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
            return row.id or 0

    @api.post("/leads")
    async def leads(request: Request) -> JSONResponse:
        data = await request.body()
        problem = verify(request.headers.get(SIGNATURE_HEADER), secret=bench_leads.SECRET,
                         method="POST", path="/leads", body=data, now=datetime.now(UTC))
        if problem is not None:
            return JSONResponse({"error": problem}, status_code=401)
        lead_id = await asyncio.to_thread(insert, Body.model_validate_json(data))
        return JSONResponse({"id": lead_id}, status_code=202)

    serve_app(api, port, ready)


def _seconds(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def parse(report: str, label: str) -> tuple[float, float, int]:
    """(requests per second, p99 seconds, requests) from wrk's --latency report."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    count = re.search(r"(\d+) requests in", report)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", report)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    if rate is None or p99 is None or count is None or errors is not None:
        raise SystemExit(f"{label}: wrk failed or got errors:\n{report}")
    return float(rate.group(1)), _seconds(p99.group(1), p99.group(2)), int(count.group(1))


def ack_script() -> str:
    body, headers = bench_slack_ack.signed_command()  # valid for five minutes
    return f"wrk.method = 'POST'\nwrk.body = {json.dumps(body)}\n" + "".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())


def intake_script(first: int) -> str:
    """Pre-signed unique leads from `first` on, so every request stores a new lead."""
    lines = ["local bodies, sigs = {}, {}"]
    for n in range(first, first + LEADS_PER_ROUND):
        data = bench_leads.body(n)
        lines.append(f"bodies[#bodies+1] = {json.dumps(data.decode())}; "
                     f"sigs[#sigs+1] = {json.dumps(bench_leads.signature(data))}")
    # wrk's two threads each run this script: they take alternate leads.
    lines += ["local threads = 0",
              "function setup(thread) thread:set('id', threads); threads = threads + 1 end",
              "local i = 0", "request = function()", "  local n = (i * 2 + id) % #bodies + 1",
              "  i = i + 1",
              "  return wrk.format('POST', '/leads', {['Content-Type'] = 'application/json',"
              " ['X-OSCBot-Signature'] = sigs[n]}, bodies[n])", "end"]
    return "\n".join(lines)


def run(name: str, ours: Any, floor: Any, path: str, script: Any,
        ours_args: tuple[Any, ...] = ()) -> tuple[str, list[float]]:
    """Interleaved rounds against both servers: (name, [rate, p99, CPU ms per request] for
    oscbot, then the same for the floor). CPU per request is the server process's own
    time, which a busy machine disturbs far less than throughput."""
    results: dict[str, list[tuple[float, float, float]]] = {"ours": [], "floor": []}
    with server_process(ours, *ours_args) as ours_url, server_process(floor) as floor_url:
        for round_number in range(ROUNDS + 1):
            for side, base in (("ours", ours_url), ("floor", floor_url)):
                cpu = cpu_seconds(base)
                report = wrk(f"{base}{path}", script(round_number), connections=CONNECTIONS,
                             seconds=SECONDS if round_number else 2)
                if report is None:
                    raise SystemExit("wrk is not installed (apt-get install wrk)")
                rate, p99, count = parse(report, f"{name}, {side}")
                if round_number:  # round 0 warms up
                    results[side].append((rate, p99, (cpu_seconds(base) - cpu) / count))
    medians = [statistics.median(r[i] for r in results[side])
               for side in ("ours", "floor") for i in (0, 1, 2)]
    return name, medians


def intake() -> tuple[str, list[float]]:
    """The intake case, its DMs going to a fake Slack in another process."""
    emails = [person.email for person in bench_leads.bench_team().people]  # type: ignore[attr-defined]
    with fake_slack(emails) as slack_url:
        return run("signed POST /leads (new)", serve_intake, serve_floor_intake, "/leads",
                   lambda round_number: intake_script(round_number * LEADS_PER_ROUND),
                   ours_args=(slack_url,))


def main() -> None:
    """Both cases (or those named: --ack, --intake, --intake-without-dm,
    --intake-queue-only), then the table."""
    cases = {
        "--ack": lambda: run("signed /coverage ack", bench_slack_ack.serve, serve_floor_ack,
                             "/slack/events", lambda _round: ack_script()),
        "--intake": intake,
        "--intake-without-dm": lambda: run(
            "POST /leads, DM not sent", serve_intake, serve_floor_intake, "/leads",
            lambda round_number: intake_script(round_number * LEADS_PER_ROUND),
            ours_args=("",)),
        "--intake-queue-only": lambda: run(
            "POST /leads, DM queued only", serve_intake, serve_floor_intake, "/leads",
            lambda round_number: intake_script(round_number * LEADS_PER_ROUND),
            ours_args=("queue only",)),
    }
    chosen = [flag for flag in cases if flag in sys.argv[1:]] or ["--ack", "--intake"]
    rows = [cases[flag]() for flag in chosen]
    print(f"{CONNECTIONS} connections, {ROUNDS} interleaved rounds of {SECONDS} s, medians")
    print(f"{'case':26} {'oscbot req/s':>12} {'p99 ms':>7} {'cpu ms/req':>10} "
          f"{'floor req/s':>11} {'p99 ms':>7} {'cpu ms/req':>10} "
          f"{'throughput':>10} {'p99':>6} {'cpu':>6}")
    for name, (rate, p99, cpu, floor_rate, floor_p99, floor_cpu) in rows:
        print(f"{name:26} {rate:>12.0f} {p99 * 1000:>7.1f} {cpu * 1000:>10.2f} "
              f"{floor_rate:>11.0f} {floor_p99 * 1000:>7.1f} {floor_cpu * 1000:>10.2f} "
              f"{rate / floor_rate:>9.2f}x {p99 / floor_p99:>5.1f}x {cpu / floor_cpu:>5.1f}x")
    print("target: throughput >= 0.5x the floor, p99 <= 2x (on a quiet machine the CPU "
          "ratio is about the inverse of the throughput ratio)")


if __name__ == "__main__":
    main()
