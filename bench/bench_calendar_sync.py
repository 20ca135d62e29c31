"""A calendar sync pass over 500 OSC calendars that have not changed, against its floor.

Half are ICS feeds answered 304 Not Modified, half are Google calendars answering
an empty incremental page from the local fake Google API (real client, real
service-account token flow); both servers run in their own process, as remote
services would. State lives in SQLite.

Floor: the least an unchanged pass needs: one read of every OSC's sync state and
the same 500 conditional requests, made with a bare httpx client by as many
threads as the sync uses. Runs are interleaved; medians and their ratio printed.
Target (issue: fast at any size, point 4): an unchanged pass under 1 s, peak
memory under 200 MB.
Run: .venv/bin/python bench/bench_calendar_sync.py
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from bot.config.model import AppConfig
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.ports.calendars import CalendarSource
from calendars.google import GoogleCalendarSource
from calendars.ics import IcsSource
from handlers.wiring import build_context
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.fakes.google_calendar import FakeGoogle

OSCS = 500
ROUNDS = 5
ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:v1\r\n"
       b"DTSTAMP:20260101T000000Z\r\nSUMMARY:Vacation\r\nDTSTART;VALUE=DATE:20261221\r\n"
       b"DTEND;VALUE=DATE:20261224\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


class Feeds(BaseHTTPRequestHandler):
    """Every path is the same calendar with ETag "v1"."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Length", str(len(ICS)))
        self.end_headers()
        self.wfile.write(ICS)

    def log_message(self, *args: object) -> None:
        pass


def team(count: int) -> AppConfig:
    people = [{"email": "backup@b.example", "name": "Backup", "role": "backup",
               "trained": True, "shadowed": True}]
    people += [{"email": f"osc{n}@b.example", "name": f"OSC {n}", "role": "osc",
                "backups": ["backup@b.example"]} for n in range(count)]
    return AppConfig.model_validate({"team": {"name": "Bench", "channel": "#s",
                                              "managers": []}, "people": people})


def serve(emails: list[str], conn: Any, stop: Any) -> None:
    """The remote side: ICS feeds and the fake Google API, in this process."""
    feeds = ThreadingHTTPServer(("127.0.0.1", 0), Feeds)
    threading.Thread(target=feeds.serve_forever, daemon=True).start()
    with FakeGoogle(page_size=250) as google:
        for n, email in enumerate(emails):
            if n % 2:
                google.put(email, {"id": f"e{n}", "summary": "Out of office",
                                   "eventType": "outOfOffice", "status": "confirmed",
                                   "start": {"dateTime": "2026-12-03T08:00:00-06:00"},
                                   "end": {"dateTime": "2026-12-04T17:00:00-06:00"}})
        conn.send((feeds.server_address[1], google.base, google.url))
        stop.wait()
    feeds.shutdown()


def floor_pass(ctx: Any, requests: list[tuple[str, dict[str, str]]],
               client: httpx.Client, workers: int) -> None:
    """One state read, then every conditional request, concurrently: no parse, no writes."""
    ctx.calendars.states([f"osc{n}@b.example" for n in range(OSCS)])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda r: client.get(r[0], headers=r[1]).status_code, requests))


def main() -> None:
    """Warm up (first full reads), then interleave unchanged passes with the floor."""
    config = team(OSCS)
    emails = [osc.email for osc in config.oscs]
    parent, child = multiprocessing.Pipe()
    stop = multiprocessing.Event()
    remote = multiprocessing.Process(target=serve, args=(emails, child, stop), daemon=True)
    remote.start()
    ics_port, google_base, google_url = parent.recv()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "b", "private_key_id": "k",
            "private_key": pem, "client_email": "svc@b.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": f"{google_base}/token"}
    base = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        info, scopes=["https://www.googleapis.com/auth/calendar.readonly"])
    sources: dict[str, CalendarSource] = {}
    for n, email in enumerate(emails):
        if n % 2:
            sources[email] = GoogleCalendarSource(
                calendar_id=email, credentials=base.with_subject(email),
                time_zone="America/Chicago", policies=config.policies, api_endpoint=google_url)
        else:
            sources[email] = IcsSource(f"http://127.0.0.1:{ics_port}/{email}.ics",
                                       time_zone="America/Chicago", policies=config.policies)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        engine = engine_from_url(url)
        ctx = build_context(config=config, repos=sql_repositories(engine),
                            clock=FixedClock(datetime(2026, 11, 24, 15, tzinfo=UTC)),
                            chat=RecordingChat(), sources=sources)
        began = time.perf_counter()
        warm = ctx.calendars.sync_all()
        warm_time = time.perf_counter() - began
        states = ctx.calendars.states(emails)
        requests = [(f"http://127.0.0.1:{ics_port}/{e}.ics", {"If-None-Match": '"v1"'})
                    if n % 2 == 0 else
                    (f"{google_url}calendars/{e}/events?syncToken="
                     f"{states[e].cursor['sync_token']}",
                     {"Authorization": "Bearer ya29.fake-token"})
                    for n, e in enumerate(emails)]
        ours, floor, ours_cpu, floor_cpu = [], [], [], []
        with httpx.Client() as client:
            for _ in range(ROUNDS):
                began, cpu = time.perf_counter(), time.process_time()
                report = ctx.calendars.sync_all()
                ours.append(time.perf_counter() - began)
                ours_cpu.append(time.process_time() - cpu)
                began, cpu = time.perf_counter(), time.process_time()
                floor_pass(ctx, requests, client, ctx.calendars.concurrency)
                floor.append(time.perf_counter() - began)
                floor_cpu.append(time.process_time() - cpu)
        engine.dispose()
    stop.set()
    remote.join(5)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mine, bare = statistics.median(ours), statistics.median(floor)
    print(f"calendars: {OSCS} ({OSCS // 2} ICS answering 304, {OSCS // 2} Google with empty "
          f"incremental pages), {ctx.calendars.concurrency} concurrent reads")
    print(f"first pass (full reads, tokens, {warm.changes} coverages planned): {warm_time:.2f} s")
    print(f"unchanged pass, median of {ROUNDS}: {mine:.3f} s (target < 1 s); "
          f"floor (one state read + bare conditional requests): {bare:.3f} s; "
          f"ratio {mine / bare:.2f}x")
    print(f"CPU of this process (servers excluded), median: {statistics.median(ours_cpu):.3f} s "
          f"vs floor {statistics.median(floor_cpu):.3f} s; ratio "
          f"{statistics.median(ours_cpu) / statistics.median(floor_cpu):.2f}x; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"last pass: read {report.read}, unchanged {report.unchanged}, failed "
          f"{report.failed}, changes {report.changes}")
    print(f"peak RSS: {peak_mb:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()
