"""A sync pass over 500 Outlook mailboxes whose calendars have not changed: one
`calendarView/delta` request each (the stored delta link answers an empty page),
through the real source, Graph client (msal token, per-mailbox limit, retries) and
SQLite state, against the fake Graph running in its own process.

The floor is the same 500 delta requests made with a bare httpx client and a fixed
token, as many at once as the sync service runs: no msal, no limits, no parsing, no
storage. Passes are interleaved and the
ratio printed. Target (issue: Microsoft 365): under 5 s per pass, peak memory under
200 MB. Run: .venv/bin/python bench/bench_outlook_sync.py
"""

from __future__ import annotations

import multiprocessing
import resource
import ssl
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.ports.calendars import CalendarSource
from calendars.outlook import OutlookCalendarSource
from handlers.wiring import build_context
from m365.graph import GraphClient, GraphConfig
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories

MAILBOXES = 500
ROUNDS = 3
VACATION = {"id": "AAMkAD-vacation", "subject": "Vacation", "isAllDay": True, "showAs": "oof",
            "isCancelled": False, "type": "singleInstance", "categories": [],
            "start": {"dateTime": "2026-12-21T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-24T00:00:00.0000000", "timeZone": "UTC"}}


def serve_graph(queue: Any, stop: Any) -> None:
    """The fake Graph with MAILBOXES mailboxes, in its own process."""
    from tests.fakes.graph import FakeGraph

    with FakeGraph(page_size=100) as graph:
        for n in range(MAILBOXES):
            graph.mailbox(f"osc{n}@b.example").put(dict(VACATION, id=f"AAMkAD-{n}"))
        queue.put(graph.env() | {"CA": graph.ca_file})
        stop.wait()


def team(count: int) -> AppConfig:
    people = [{"email": "backup@b.example", "name": "Backup", "role": "backup",
               "trained": True, "shadowed": True}]
    people += [{"email": f"osc{n}@b.example", "name": f"OSC {n}", "role": "osc",
                "backups": ["backup@b.example"],
                "calendar": {"outlook": f"osc{n}@b.example"}} for n in range(count)]
    return AppConfig.model_validate({"team": {"name": "Bench", "channel": "#s",
                                              "managers": []}, "people": people})


def floor_pass(links: list[str], token: str, ca: str, workers: int) -> float:
    """The same delta requests with nothing around them, as many at once as the sync."""
    headers = {"Authorization": f"Bearer {token}",
               "Prefer": 'odata.maxpagesize=100, outlook.timezone="UTC"'}
    with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as client, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        began = time.perf_counter()
        list(pool.map(lambda link: client.get(link, headers=headers).json(), links))
        return time.perf_counter() - began


def main() -> None:
    """Warm up (first full rounds), then interleave our passes with floor passes."""
    queue: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve_graph, args=(queue, stop), daemon=True)
    server.start()
    env = queue.get(timeout=120)
    config = team(MAILBOXES)
    graph_config = GraphConfig.from_settings(Settings.from_env(env))
    assert graph_config is not None
    client = GraphClient(graph_config, verify=env["CA"])
    sources: dict[str, CalendarSource] = {
        osc.email: OutlookCalendarSource(client=client, mailbox=osc.email,
                                         time_zone="America/Chicago", policies=config.policies)
        for osc in config.oscs}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        engine = engine_from_url(url)
        repos = sql_repositories(engine)
        ctx = build_context(config=config, repos=repos,
                            clock=FixedClock(datetime(2026, 11, 24, 15, tzinfo=UTC)),
                            chat=RecordingChat(), sources=sources)
        began = time.perf_counter()
        warm = ctx.calendars.sync_all()
        warm_time = time.perf_counter() - began
        links = [state.cursor["outlook_delta"] for osc in config.oscs
                 if (state := repos.calendar_sync.get(osc.email)) is not None]
        token = client.tokens.token()
        workers = int(getattr(ctx.calendars, "concurrency", 1))
        ours, floors = [], []
        for _ in range(ROUNDS):
            began = time.perf_counter()
            report = ctx.calendars.sync_all()
            ours.append(time.perf_counter() - began)
            floors.append(floor_pass(links, token, env["CA"], workers))
        engine.dispose()
    stop.set()
    server.join(10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best, floor = min(ours), min(floors)
    print(f"mailboxes: {MAILBOXES} Outlook calendars, unchanged (one empty delta page each)")
    print(f"first pass (full delta rounds, automatic replies, token, {warm.changes} coverages "
          f"planned): {warm_time:.2f} s")
    print(f"unchanged passes: {', '.join(f'{p:.2f} s' for p in ours)} (target < 5 s); last: "
          f"read {report.read}, unchanged {report.unchanged}, failed {report.failed}")
    print(f"floor (bare httpx, same requests, {workers} at once): "
          f"{', '.join(f'{p:.2f} s' for p in floors)}")
    print(f"ratio best/best: {best / floor:.2f}x")
    print(f"peak RSS: {peak_mb:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()
