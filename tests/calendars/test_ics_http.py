"""ICS over HTTP: conditional GET with ETag, User-Agent, clear errors, never a traceback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.config.model import Policies
from bot.errors import CalendarError
from calendars.ics import IcsSource

CALENDAR = (Path(__file__).parent / "corpus" / "google_export_vacation.ics").read_bytes()
START, END = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)


class Feed(BaseHTTPRequestHandler):
    """Serves one calendar with an ETag; `/broken` answers 500."""

    requests: list[dict[str, str]] = []

    def do_GET(self) -> None:
        Feed.requests.append({k.lower(): v for k, v in self.headers.items()})
        if self.path == "/broken":
            self.send_response(500)
            self.end_headers()
            return
        if self.path == "/trickle":
            # A feed that never finishes: one byte at a time, for longer than any budget.
            self.send_response(200)
            self.end_headers()
            for byte in CALENDAR[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
            return
        if self.path == "/no-etag":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(CALENDAR)
            return
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar; charset=utf-8")
        self.send_header("ETag", '"v1"')
        self.send_header("Last-Modified", "Mon, 02 Nov 2026 15:00:00 GMT")
        self.end_headers()
        self.wfile.write(CALENDAR)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Feed.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_second_read_is_a_304_and_unchanged(server: str) -> None:
    source = IcsSource(f"{server}/maria.ics", time_zone="America/Chicago", policies=Policies())
    first = source.read(start=START, end=END, cursor={})
    assert [a.summary for a in first.absences] == ["Vacation"]
    assert first.cursor["etag"] == '"v1"'
    assert first.cursor["last_modified"] == "Mon, 02 Nov 2026 15:00:00 GMT"
    second = source.read(start=START, end=END, cursor=first.cursor)
    assert second.unchanged and second.absences == ()
    assert Feed.requests[1]["if-none-match"] == '"v1"'
    assert Feed.requests[0]["user-agent"].startswith("oscbot")


def test_http_errors_and_unreachable_hosts_are_calendar_errors(server: str) -> None:
    broken = IcsSource(f"{server}/broken", time_zone="America/Chicago", policies=Policies())
    with pytest.raises(CalendarError, match="HTTP 500"):
        broken.read(start=START, end=END, cursor={})
    gone = IcsSource("http://127.0.0.1:9/nothing.ics", time_zone="America/Chicago",
                     policies=Policies())
    with pytest.raises(CalendarError, match="fetch failed"):
        gone.read(start=START, end=END, cursor={})


def test_a_feed_slower_than_its_budget_is_given_up(server: str) -> None:
    slow = IcsSource(f"{server}/trickle", time_zone="America/Chicago",
                     policies=Policies(calendar_read_budget=timedelta(seconds=1)))
    began = time.monotonic()
    with pytest.raises(CalendarError, match="calendar_read_budget"):
        slow.read(start=START, end=END, cursor={})
    assert time.monotonic() - began < 3


def test_same_bytes_without_an_etag_are_unchanged_until_the_window_moves_on(
        server: str) -> None:
    source = IcsSource(f"{server}/no-etag", time_zone="America/Chicago", policies=Policies())
    first = source.read(start=START, end=END, cursor={})
    assert not first.unchanged and "etag" not in first.cursor
    assert source.read(start=START, end=END, cursor=first.cursor).unchanged
    later = source.read(start=START + timedelta(days=3), end=END + timedelta(days=3),
                        cursor=first.cursor)
    assert not later.unchanged and [a.summary for a in later.absences] == ["Vacation"]


def test_the_window_moving_on_refetches_without_conditions(server: str) -> None:
    source = IcsSource(f"{server}/maria.ics", time_zone="America/Chicago", policies=Policies())
    first = source.read(start=START, end=END, cursor={})
    source.read(start=START + timedelta(days=3), end=END + timedelta(days=3),
                cursor=first.cursor)
    assert "if-none-match" not in Feed.requests[-1]
