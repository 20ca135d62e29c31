"""New lead to Teams DM: from a signed `POST /leads` to the 1:1 card reaching the fake Bot
Connector, through the outbox and the Teams SDK. Target (issue: Teams): p99 under 500 ms.

The server (FastAPI app, SQLite, Teams chat port on the SDK, fake Bot Connector) runs in
its own process. The floor, measured interleaved with our path: the same card POSTed
straight to the fake connector (one HTTP hop, no oscbot). Both are paced at RATE/s.
Run: .venv/bin/python bench/bench_teams_dm.py
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_leads import OSCS, bench_team
from harness import percentile, server_process

SECRET = "bench-lead-secret"
LEADS, RATE = 300, 20.0


def teams_team() -> Any:
    """The intake benchmark's large builder, on Teams."""
    config = bench_team()
    return config.model_copy(update={"team": config.team.model_copy(update={"chat": "teams"})})


def serve(port: int, ready: Any) -> None:
    """The server process: oscbot on Teams, with the fake connector in-process."""
    from harness import serve_app

    from bot.ports.chat import ConversationKind, ConversationRef
    from handlers.cli.app import SystemClock
    from handlers.http.app import create_app
    from handlers.teams.chat import TeamsChat
    from handlers.wiring import build_context
    from storage.conversation_refs import SqlConversationRefs
    from storage.engine import engine_from_url
    from storage.migrate import upgrade
    from storage.repositories import sql_repositories
    from tests.fakes.bot_connector import BOT_ID, TEAM_ID, TENANT, FakeBotConnector

    config = teams_team()
    url = f"sqlite:///{tempfile.mkdtemp()}/teams.db"
    upgrade(url)
    engine = engine_from_url(url)
    teams = FakeBotConnector().__enter__()
    for person in config.people:
        teams.add_member(person.email, person.name)
    refs = SqlConversationRefs(engine)
    refs.save(ConversationRef(conversation_id=TEAM_ID, service_url=teams.url, tenant_id=TENANT,
                              kind=ConversationKind.CHANNEL, team_id=TEAM_ID,
                              updated_at=SystemClock().now()))
    chat = TeamsChat(refs=refs, clock=SystemClock(), service_url=teams.url, tenant_id=TENANT,
                     bot_id=BOT_ID, names={p.email: p.name for p in config.people})
    ctx = build_context(config=config, repos=sql_repositories(engine), clock=SystemClock(),
                        chat=chat, sources={})
    app = create_app(ctx, lead_secret=SECRET)

    @app.get("/bench/arrivals")
    def arrivals() -> list[dict[str, object]]:
        """When each card reached the fake connector, with the lead it announces."""
        out = []
        for conversation, at, activity_id in list(teams.arrivals):
            card = teams.conversations[conversation].activities[activity_id]
            text = json.dumps(card["attachments"][0]["content"]["body"][:2])
            out.append({"text": text, "at": at})
        return out

    @app.get("/bench/connector")
    def connector() -> dict[str, str]:
        """Where the fake connector listens, for the floor."""
        return {"url": teams.url, "conversation": TEAM_ID}

    serve_app(app, port, ready)


def lead(n: int) -> bytes:
    return json.dumps({"source": "website", "external_id": f"bench-{n}", "name": f"Lead {n}",
                       "phone": f"+1512555{n % 10000:04d}", "community": f"C{n % OSCS}",
                       "message": "Is the 3-bed plan available?"}).encode()


async def run(base: str) -> tuple[dict[int, float], list[float]]:
    """Interleave LEADS signed leads with LEADS floor posts, RATE of each per second."""
    from handlers.http.signing import signed_headers

    sent_at: dict[int, float] = {}
    floor: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        where = (await client.get(f"{base}/bench/connector")).json()
        card = {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.5",
                        "body": [{"type": "TextBlock", "text": "floor"}]}}]}
        floor_target = f"{where['url']}/v3/conversations/{where['conversation']}/activities"

        async def one(n: int) -> None:
            data = lead(n)
            sent_at[n] = time.time()
            answer = await client.post(f"{base}/leads", content=data, headers=signed_headers(
                SECRET, path="/leads", body=data, t=int(time.time())))
            assert answer.status_code == 202, answer.text

        async def hop() -> None:
            began = time.perf_counter()
            answer = await client.post(floor_target, json=card)
            assert answer.status_code in (201, 429), answer.text
            floor.append((time.perf_counter() - began) * 1000)

        # Warm-up: one lead per OSC opens each 1:1 chat (roster read, create conversation).
        await asyncio.gather(*(one(-1 - n) for n in range(OSCS)))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(
                (await client.get(f"{base}/bench/arrivals")).json()) < OSCS:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        tasks = []
        for n in range(LEADS):
            tasks.append(asyncio.create_task(one(n)))
            tasks.append(asyncio.create_task(hop()))
            await asyncio.sleep(1 / RATE)
        await asyncio.gather(*tasks)
    return sent_at, floor


def main() -> None:
    """Match every DM that reached the fake connector to its lead; print both sides."""
    with server_process(serve) as base:
        sent_at, floor = asyncio.run(run(base))
        time.sleep(3)
        arrivals = httpx.get(f"{base}/bench/arrivals", timeout=30).json()
    received: dict[int, float] = {}
    for arrival in arrivals:
        found = re.search(r"Lead (-?\d+)", arrival["text"])
        if found and int(found.group(1)) in sent_at:
            received.setdefault(int(found.group(1)), float(arrival["at"]))
    in_order = [(received[n] - sent_at[n]) * 1000 for n in sorted(received) if n >= 0]
    if "-v" in sys.argv:
        print("per second of the run, worst ms:", [round(max(in_order[i:i + int(RATE)]))
                                                  for i in range(0, len(in_order), int(RATE))])
    latencies = sorted(in_order)
    floor.sort()
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    f50, f99 = percentile(floor, 0.5), percentile(floor, 0.99)
    print(f"new lead -> Teams DM at the fake Bot Connector ({LEADS} leads at {RATE:.0f}/s over "
          f"{OSCS} OSCs, interleaved with the floor): {len(latencies)} DMs, p50 {p50:.0f} ms, "
          f"p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms (target p99 < 500 ms)")
    print(f"floor (the card POSTed straight to the connector): p50 {f50:.1f} ms, "
          f"p99 {f99:.1f} ms; ratio at p99: {p99 / f99:.1f}x")


if __name__ == "__main__":
    main()
