"""Lead intake throughput and new-lead-to-DM latency over real HTTP, on SQLite.

The server (FastAPI app, example team, SQLite, Slack chat port pointed at a local
fake Slack Web API) runs in its own process; signed `POST /leads` requests come
from here. Targets (issue: leads): at least 200 leads/s; from the request to the
DM's chat.postMessage reaching the fake Slack, p99 under 500 ms.
Run: .venv/bin/python bench/bench_leads.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from harness import percentile, serve_app, server_process, wrk

from handlers.http.signing import signature_header

SECRET = "bench-lead-secret"
LEADS, CONCURRENCY = 2000, 16
OSCS, PACED_LEADS, PACED_RATE = 60, 300, 30.0


def bench_team() -> object:
    """A large builder: OSCS counselors, each with a community and two backups."""
    from bot.config.model import AppConfig

    people: list[dict[str, object]] = [
        {"email": f"backup{n}@b.example", "name": f"Backup {n}", "role": "backup",
         "trained": True, "shadowed": True, "max_active_leads": 100000} for n in range(2)]
    people += [{"email": f"osc{n}@b.example", "name": f"OSC {n}", "role": "osc",
                "communities": [f"C{n}"], "backups": ["backup0@b.example", "backup1@b.example"]}
               for n in range(OSCS)]
    people.append({"email": "mgr@b.example", "name": "Manager", "role": "manager"})
    return AppConfig.model_validate({"team": {"name": "Bench Homes", "channel": "C1",
                                              "managers": ["mgr@b.example"]},
                                     "people": people})


def serve(port: int, ready: Any) -> None:
    """The server process."""

    from handlers.http.app import create_app
    from handlers.slack.chat import SlackChat
    from handlers.wiring import build_context
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories
    from tests.fakes.slack_api import TOKEN, FakeSlack

    class Clock:
        """Real time: latency is measured against the wall clock."""

        def now(self) -> datetime:
            return datetime.now(UTC)

    config = bench_team()
    url = f"sqlite:///{tempfile.mkdtemp()}/leads.db"
    upgrade(url)
    slack = FakeSlack().__enter__()
    for n, person in enumerate(config.people):
        slack.add_user(person.email, f"U{n}")
    chat = SlackChat(token=TOKEN, api_url=slack.url, names={p.email: p.name
                                                           for p in config.people})
    ctx = build_context(config=config, repos=sql_repositories(engine_from_url(url)),
                        clock=Clock(), chat=chat, sources={})
    app = create_app(ctx, lead_secret=SECRET)

    @app.get("/bench/slack-calls")
    def calls() -> list[dict[str, object]]:
        """When each DM reached the fake Slack, by the lead it announces."""
        return [{"text": c.args.get("text", ""), "at": c.headers.get("X-Received-At", "")}
                for c in slack.calls_made if c.method == "chat.postMessage"]

    serve_app(app, port, ready)


def body(n: int) -> bytes:
    community = f"C{n % OSCS}"
    return json.dumps({"source": "website", "external_id": f"bench-{n}",
                       "name": f"Lead {n}", "phone": f"+1512555{n % 10000:04d}",
                       "community": community, "message": "Is the 3-bed plan available?"}
                      ).encode()


def signature(data: bytes) -> str:
    return signature_header(SECRET, method="POST", path="/leads", body=data, t=int(time.time()))


async def paced(base: str) -> dict[int, float]:
    """PACED_LEADS leads at PACED_RATE per second, spread over every OSC."""
    sent_at: dict[int, float] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        async def one(n: int) -> None:
            data = body(n)
            sent_at[n] = time.time()
            answer = await client.post(f"{base}/leads", content=data, headers={
                "Content-Type": "application/json", "X-OSCBot-Signature": signature(data)})
            assert answer.status_code == 202, answer.text

        tasks = []
        for n in range(PACED_LEADS):
            tasks.append(asyncio.create_task(one(n)))
            await asyncio.sleep(1 / PACED_RATE)
        await asyncio.gather(*tasks)
    return sent_at


async def post_all(base: str) -> float:
    """LEADS more leads as fast as CONCURRENCY clients can send them."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(PACED_LEADS, PACED_LEADS + LEADS):
        queue.put_nowait(n)
    async with httpx.AsyncClient(timeout=30) as client:
        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                data = body(n)
                answer = await client.post(f"{base}/leads", content=data, headers={
                    "Content-Type": "application/json", "X-OSCBot-Signature": signature(data)})
                assert answer.status_code == 202, answer.text

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - began


def intake_with_wrk(base: str, first: int, count: int = 20_000) -> str | None:
    """Intake measured with wrk (a C client) cycling through pre-signed unique leads, so
    the number is the server's, not a Python client's sharing the same two cores."""
    lines = ["local bodies, sigs = {}, {}"]
    for n in range(first, first + count):
        data = body(n)
        lines.append(f"bodies[#bodies+1] = {json.dumps(data.decode())}; "
                     f"sigs[#sigs+1] = {json.dumps(signature(data))}")
    lines += ["local i = 0",
              "request = function()",
              "  i = i % #bodies + 1",
              "  return wrk.format('POST', '/leads', {['Content-Type'] = 'application/json',"
              " ['X-OSCBot-Signature'] = sigs[i]}, bodies[i])",
              "end"]
    return wrk(base, "\n".join(lines), connections=CONCURRENCY, seconds=8)


def main() -> None:
    """Post LEADS leads, then match each DM that reached the fake Slack to its request."""
    with server_process(serve) as base:
        sent_at = asyncio.run(paced(base))
        time.sleep(2)
        calls = httpx.get(f"{base}/bench/slack-calls", timeout=30).json()
        elapsed = asyncio.run(post_all(base))
        wrk_report = intake_with_wrk(base, first=PACED_LEADS + LEADS)
    received: dict[int, float] = {}
    for call in calls:
        name = call["text"].split("New lead: ")[-1].split(" —")[0]
        if name.startswith("Lead ") and int(name.split()[1]) in sent_at:
            received[int(name.split()[1])] = float(call["at"])
    latencies = sorted((received[n] - sent_at[n]) * 1000 for n in received)
    print(f"intake: {LEADS} signed POST /leads with {CONCURRENCY} concurrent clients in "
          f"{elapsed:.2f} s = {LEADS / elapsed:.0f} leads/s (target >= 200/s, SQLite)")
    if wrk_report:
        print(f"intake with wrk ({CONCURRENCY} connections, 8 s, every lead new and signed):")
        print(wrk_report)
    print(f"new lead -> DM at the fake Slack ({PACED_LEADS} leads at {PACED_RATE:.0f}/s over "
          f"{OSCS} OSCs): {len(latencies)} DMs, p50 {percentile(latencies, 0.5):.0f} ms, "
          f"p99 {percentile(latencies, 0.99):.0f} ms, max {latencies[-1]:.0f} ms "
          "(target p99 < 500 ms)")


if __name__ == "__main__":
    main()
