"""A calendar sync pass over 500 OSC calendars that have not changed.

Half are ICS feeds answered 304 Not Modified by a local HTTP server, half are
Google calendars answering an empty incremental page from the local fake Google
API (real client, real service-account token flow). State lives in SQLite.
Target (issue: calendar watching): under 5 s per pass, peak memory under 200 MB.
Run: .venv/bin/python bench/bench_calendar_sync.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from bot.config import AppConfig
from bot.fakes import FixedClock, RecordingChat
from bot.ports import CalendarSource
from calendars.google import GoogleCalendarSource
from calendars.ics import IcsSource
from handlers.context import build_context
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.fakes.google_calendar import FakeGoogle

OSCS = 500
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


def main() -> None:
    """Warm up (first full reads), then time two unchanged passes."""
    feeds = ThreadingHTTPServer(("127.0.0.1", 0), Feeds)
    threading.Thread(target=feeds.serve_forever, daemon=True).start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    config = team(OSCS)
    with FakeGoogle(page_size=250) as google, tempfile.TemporaryDirectory() as folder:
        info = {"type": "service_account", "project_id": "b", "private_key_id": "k",
                "private_key": pem, "client_email": "svc@b.iam.gserviceaccount.com",
                "client_id": "1", "token_uri": f"{google.base}/token"}
        base = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=["https://www.googleapis.com/auth/calendar.readonly"])
        sources: dict[str, CalendarSource] = {}
        for n, osc in enumerate(config.oscs):
            if n % 2:
                google.put(osc.email, {"id": f"e{n}", "summary": "Out of office",
                                       "eventType": "outOfOffice", "status": "confirmed",
                                       "start": {"dateTime": "2026-12-03T08:00:00-06:00"},
                                       "end": {"dateTime": "2026-12-04T17:00:00-06:00"}})
                sources[osc.email] = GoogleCalendarSource(
                    calendar_id=osc.email, credentials=base.with_subject(osc.email),
                    time_zone="America/Chicago", policies=config.policies,
                    api_endpoint=google.url)
            else:
                sources[osc.email] = IcsSource(
                    f"http://127.0.0.1:{feeds.server_address[1]}/{osc.email}.ics",
                    time_zone="America/Chicago", policies=config.policies)
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        engine = engine_from_url(url)
        ctx = build_context(config=config, repos=sql_repositories(engine),
                            clock=FixedClock(datetime(2026, 11, 24, 15, tzinfo=UTC)),
                            chat=RecordingChat(), sources=sources)
        began = time.perf_counter()
        warm = ctx.calendars.sync_all()
        warm_time = time.perf_counter() - began
        passes = []
        for _ in range(2):
            began = time.perf_counter()
            report = ctx.calendars.sync_all()
            passes.append(time.perf_counter() - began)
        engine.dispose()
    feeds.shutdown()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"calendars: {OSCS} ({OSCS // 2} ICS answering 304, {OSCS // 2} Google with empty "
          f"incremental pages)")
    print(f"first pass (full reads, tokens, {warm.changes} coverages planned): {warm_time:.2f} s")
    print(f"unchanged passes: {', '.join(f'{p:.2f} s' for p in passes)} (target < 5 s); "
          f"last: read {report.read}, unchanged {report.unchanged}, failed {report.failed}, "
          f"changes {report.changes}")
    print(f"peak RSS: {peak_mb:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()
