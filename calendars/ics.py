"""ICS calendars (a file or an http(s) URL) as a `CalendarSource`.

Parsing is `icalendar`'s, recurrence `recurring-ical-events`' (RRULE, RDATE,
EXDATE, RECURRENCE-ID with THISANDFUTURE), Google's X-WR-TIMEZONE is
normalised by `x-wr-timezone`, and icalendar resolves Windows TZIDs. Floating
times and all-day dates are read in the person's own zone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import recurring_ical_events
import x_wr_timezone

from bot.absences import CalendarEvent, absences_from_events
from bot.config import Policies
from bot.errors import CalendarError
from bot.model import SkippedEvent
from bot.ports import CalendarRead

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@functools.cache
def shared_client() -> httpx.Client:
    """One pooled client for every feed: building TLS contexts per fetch is slow."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=True,
                        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))


def _user_agent() -> str:
    try:
        return f"oscbot/{version('oscbot')}"
    except PackageNotFoundError:
        return "oscbot"


def parse_calendar(data: bytes, *, label: str) -> icalendar.Calendar:
    """Parse ICS bytes, or raise CalendarError with one clear line."""
    if not data.strip():
        raise CalendarError(f"{label}: the calendar is empty")
    if data.lstrip()[:1] == b"<":
        raise CalendarError(f"{label}: not a valid iCalendar file (it is an HTML page; is the "
                            "address a sign-in page or a web view instead of the ICS link?)")
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CalendarError(f"{label}: not a valid iCalendar file ({first})") from None
    if calendar.name != "VCALENDAR":
        raise CalendarError(f"{label}: not a valid iCalendar file (no VCALENDAR)")
    try:
        standard: icalendar.Calendar = x_wr_timezone.to_standard(calendar)
    except Exception as exc:  # the library raises plain errors on odd zones
        raise CalendarError(f"{label}: cannot apply X-WR-TIMEZONE ({exc})") from None
    return standard


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)


def _text(component: Any, name: str) -> str:
    value = component.get(name)
    return str(value) if value is not None else ""


def _categories(component: Any) -> tuple[str, ...]:
    found: list[str] = []
    values = component.get("CATEGORIES")
    for entry in values if isinstance(values, list) else [values] if values else []:
        cats = getattr(entry, "cats", None)
        found.extend(str(c) for c in (cats if cats is not None else [entry]))
    return tuple(found)


def to_event(component: Any, zone: ZoneInfo) -> CalendarEvent | None:
    """One expanded VEVENT as a neutral event (None when it has no start)."""
    start_prop = component.get("DTSTART")
    if start_prop is None:
        return None
    raw_start = start_prop.dt
    all_day = not isinstance(raw_start, datetime)
    start = _aware(raw_start, zone)
    if component.get("DTEND") is not None:
        end = _aware(component.get("DTEND").dt, zone)
    elif component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    elif all_day:
        end = _aware(raw_start + timedelta(days=1), zone)
    else:
        end = start
    uid = _text(component, "UID") or f"no-uid-{start.isoformat()}"
    return CalendarEvent(
        uid=uid, summary=_text(component, "SUMMARY"), start=start, end=end, all_day=all_day,
        description=_text(component, "DESCRIPTION"), categories=_categories(component),
        status=_text(component, "STATUS") or "CONFIRMED",
        busy_status=_text(component, "X-MICROSOFT-CDO-BUSYSTATUS"),
        transparent=_text(component, "TRANSP").upper() == "TRANSPARENT")


def events_between(calendar: icalendar.Calendar, *, start: datetime, end: datetime,
                   zone: ZoneInfo, label: str) -> Iterator[CalendarEvent]:
    """Every event occurrence overlapping `[start, end)`."""
    try:
        occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(
            start, end)
    except Exception as exc:  # bad RRULEs and dates surface as assorted errors
        raise CalendarError(f"{label}: cannot expand recurring events ({exc})") from None
    for component in occurrences:
        event = to_event(component, zone)
        if event is not None:
            yield event


def unreadable_events(calendar: icalendar.Calendar) -> list[SkippedEvent]:
    """Events whose dates cannot be read; they are skipped, the rest of the calendar kept."""
    bad = []
    for component in calendar.walk("VEVENT"):
        # icalendar keeps unparseable properties and lists them in `errors`.
        problems = [f"{name}: {message}" for name, message in getattr(component, "errors", ())
                    if name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE")]
        if problems:
            bad.append(SkippedEvent(_text(component, "UID") or "(no uid)",
                                    f"unreadable date ({problems[0]})"))
    return bad


def read_absences(calendar: icalendar.Calendar, *, start: datetime, end: datetime,
                  zone: ZoneInfo, policies: Policies, label: str) -> CalendarRead:
    """Absences overlapping `[start, end)`, each whole, merged, sorted; plus skipped events.

    The expansion window is padded by `long_term_after` so an absence reaching past
    either edge is seen (and merged) whole.
    """
    pad = policies.long_term_after
    events = list(events_between(calendar, start=start - pad, end=end + pad, zone=zone,
                                 label=label))
    absences, skipped = absences_from_events(events, policies=policies)
    inside = tuple(a for a in absences if a.overlaps(start, end))
    seen = {e.uid for e in events if e.end > start and e.start < end}
    return CalendarRead(absences=inside, skipped=(
        *unreadable_events(calendar), *(s for s in skipped if s.uid in seen)))


class IcsSource:
    """An OSC's calendar published as ICS (Google secret address, Outlook, iCloud, a file)."""

    def __init__(self, location: str, *, time_zone: str, policies: Policies,
                 client: httpx.Client | None = None) -> None:
        self.location = location
        self.zone = ZoneInfo(time_zone)
        self.policies = policies
        self._client = client
        self.label = location if "://" not in location else location.split("?")[0]

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """Fetch (conditionally) and parse; `unchanged=True` on 304 Not Modified."""
        if "://" in self.location:
            data, new_cursor = self._fetch(cursor)
            if data is None:
                return CalendarRead(absences=(), unchanged=True, cursor=cursor)
        else:
            try:
                data = Path(self.location).read_bytes()
            except OSError as exc:
                raise CalendarError(f"{self.label}: cannot read ({exc.strerror})") from None
            new_cursor = {}
        calendar = parse_calendar(data, label=self.label)
        read = read_absences(calendar, start=start, end=end, zone=self.zone,
                             policies=self.policies, label=self.label)
        return CalendarRead(absences=read.absences, skipped=read.skipped, cursor=new_cursor)

    def _fetch(self, cursor: dict[str, str]) -> tuple[bytes | None, dict[str, str]]:
        headers = {"User-Agent": _user_agent(), "Accept": "text/calendar, */*"}
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("last_modified"):
            headers["If-Modified-Since"] = cursor["last_modified"]
        client = self._client or shared_client()
        try:
            response = client.get(self.location.replace("webcal://", "https://", 1),
                                  headers=headers)
        except httpx.HTTPError as exc:
            raise CalendarError(f"{self.label}: fetch failed ({type(exc).__name__})") from None
        if response.status_code == 304:
            return None, cursor
        if response.status_code != 200:
            raise CalendarError(f"{self.label}: HTTP {response.status_code}")
        new_cursor = {k: v for k, v in (("etag", response.headers.get("ETag")),
                                        ("last_modified",
                                         response.headers.get("Last-Modified"))) if v}
        return response.content, new_cursor
