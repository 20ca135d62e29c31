"""ICS over HTTP: conditional GET with ETag, User-Agent, clear errors, never a traceback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.config import Policies
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
