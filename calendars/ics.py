"""ICS calendars (a file or an http(s) URL) as a `CalendarSource`.

Every read is bounded: the feed's size (`policies.calendar_max_bytes`), the
time spent on it (`policies.calendar_read_budget`), and the work any one series
may cost (see `calendars.ics_parse`). An unchanged feed (304 Not Modified, or the
same bytes as last time) is reported `unchanged` without being parsed.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx

from bot.config.model import Policies
from bot.errors import CalendarError
from bot.ports.calendars import CalendarRead
from calendars.ics_feed import Deadline, one_line
from calendars.ics_parse import EXTENSIONS, parse_calendar, read_absences

if TYPE_CHECKING:
    from calendars.registry import CalendarSetup

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A feed that did not change is re-read in full once its absences were computed this far
# ahead of the window's end: the window moves with time, the feed's answer with it.
REFRESH_AHEAD = timedelta(days=1)


@functools.cache
def shared_client() -> httpx.Client:
    """One pooled client for every feed: building TLS contexts per fetch is slow."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=True,
                        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))


@functools.cache
def _user_agent() -> str:
    try:
        return f"oscbot/{version('oscbot')}"
    except PackageNotFoundError:
        return "oscbot"


class IcsSource:
    """An OSC's calendar published as ICS (Google secret address, Outlook, iCloud, a file)."""

    def __init__(self, location: str, *, time_zone: str, policies: Policies,
                 client: httpx.Client | None = None) -> None:
        self.location = location
        self.zone = ZoneInfo(time_zone)
        self.policies = policies
        self._client = client
        self.label = one_line(location if "://" not in location else location.split("?")[0],
                              120)

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """Fetch (conditionally) and parse; `unchanged=True` when the feed did not change.

        The feed is read `REFRESH_AHEAD` past `end`, so the next reads of an unchanged
        feed within that day need no parse (an absence entering the window is seen at
        most that much later).
        """
        deadline = Deadline(self.policies.calendar_read_budget.total_seconds(),
                            label=self.label)
        fresh = _covers(cursor, end)
        if "://" in self.location:
            data, new_cursor = self._fetch(cursor if fresh else {}, deadline)
            if data is None:
                return CalendarRead(absences=(), unchanged=True, cursor=cursor)
        else:
            data, new_cursor = self._read_file(), {}
        digest = hashlib.sha256(data).hexdigest()
        if fresh and cursor.get("sha256") == digest:
            return CalendarRead(absences=(), unchanged=True, cursor=cursor)
        until = end + REFRESH_AHEAD
        pad = self.policies.long_term_after * 2 ** (EXTENSIONS + 1)
        parsed = parse_calendar(data, label=self.label, zone=self.zone, horizon=until + pad,
                                deadline=deadline)
        read = read_absences(parsed, start=start, end=until, zone=self.zone,
                             policies=self.policies, deadline=deadline)
        return CalendarRead(absences=tuple(a for a in read.absences if a.overlaps(start, end)),
                            skipped=read.skipped,
                            warnings=read.warnings, event_count=read.event_count,
                            cursor={**new_cursor, "sha256": digest, "until": until.isoformat()})

    def _read_file(self) -> bytes:
        limit = self.policies.calendar_max_bytes
        try:
            with open(self.location, "rb") as handle:
                # Read one byte past the limit rather than trust a size (pipes, /dev files).
                data = handle.read(limit + 1)
        except OSError as exc:
            raise CalendarError(f"{self.label}: cannot read ({exc.strerror})") from None
        if len(data) > limit:
            raise self._too_large()
        return data

    def _too_large(self) -> CalendarError:
        megabytes = self.policies.calendar_max_bytes / (1024 * 1024)
        return CalendarError(f"{self.label}: the calendar is larger than {megabytes:g} MB "
                             "(policies.calendar_max_bytes); is this the right feed?")

    def _fetch(self, cursor: dict[str, str],
               deadline: Deadline) -> tuple[bytes | None, dict[str, str]]:
        headers = {"User-Agent": _user_agent(), "Accept": "text/calendar, */*"}
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("last_modified"):
            headers["If-Modified-Since"] = cursor["last_modified"]
        client = self._client or shared_client()
        limit = self.policies.calendar_max_bytes
        try:
            with client.stream("GET", self.location.replace("webcal://", "https://", 1),
                               headers=headers) as response:
                if response.status_code == 304:
                    response.read()  # the empty body; reading it lets the connection be reused
                    return None, cursor
                if response.status_code != 200:
                    raise CalendarError(f"{self.label}: HTTP {response.status_code}")
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > limit:
                    raise self._too_large()
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise self._too_large()
                    chunks.append(chunk)
                    deadline.check()
        except httpx.HTTPError as exc:
            raise CalendarError(f"{self.label}: fetch failed ({type(exc).__name__})") from None
        new_cursor = {k: v for k, v in (("etag", response.headers.get("ETag")),
                                        ("last_modified",
                                         response.headers.get("Last-Modified"))) if v}
        return b"".join(chunks), new_cursor


def _covers(cursor: dict[str, str], end: datetime) -> bool:
    """True when the last full read computed absences at least as far as `end`."""
    try:
        return datetime.fromisoformat(cursor["until"]) >= end
    except (KeyError, ValueError):
        return False


def source(where: str, setup: CalendarSetup) -> IcsSource:
    """An ICS file (relative to app.yaml's folder) or an https URL."""
    location = where
    if "://" not in location and not Path(location).is_absolute():
        location = str(setup.base / location)
    return IcsSource(location, time_zone=setup.zone, policies=setup.policies)
