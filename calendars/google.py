"""Google Calendar as a `CalendarSource`: the official client, a service account with
domain-wide delegation (one subject per OSC), incremental sync with sync tokens.

The first read lists every event from just before the window on (`singleEvents`,
so recurring events arrive expanded) and keeps a compact copy of them plus the
`nextSyncToken` in the cursor. Later reads ask only for changes; an empty change
page means nothing changed. A 410 Gone drops the token and lists everything again.
Rate limits (403 rateLimitExceeded, 429) and 5xx are retried with jittered
exponential backoff; anything else becomes a CalendarError with one clear line.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httplib2
from google.auth.exceptions import GoogleAuthError
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from bot.calendar.absences import CalendarEvent, absences_from_events
from bot.config.model import Policies
from bot.errors import CalendarError
from bot.ports.calendars import CalendarRead

if TYPE_CHECKING:
    from calendars.registry import CalendarSetup

SCOPES = ("https://www.googleapis.com/auth/calendar.readonly",)
RETRY_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "backendError"}
PAGE_SIZE = 2500


def delegated_credentials(key_file: Path, *, subject: str) -> Any:
    """Service-account credentials acting as `subject` (domain-wide delegation)."""
    from google.oauth2 import service_account

    try:
        base = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(key_file), scopes=list(SCOPES))
    except (OSError, ValueError) as exc:
        raise CalendarError(f"cannot load Google credentials from {key_file}: {exc}") from None
    return base.with_subject(subject)


def _when(value: dict[str, str], zone: ZoneInfo) -> tuple[datetime, bool]:
    if "date" in value:
        day = date.fromisoformat(value["date"])
        return datetime(day.year, day.month, day.day, tzinfo=zone), True
    moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)), False


def compact(item: dict[str, Any]) -> dict[str, Any]:
    """The fields of a Google event the absence rules need."""
    return {
        "id": item["id"], "summary": item.get("summary", ""),
        "description": item.get("description", ""), "start": item.get("start", {}),
        "end": item.get("end", {}), "status": item.get("status", "confirmed"),
        "eventType": item.get("eventType", "default"),
        "transparency": item.get("transparency", "opaque"),
    }


def to_event(item: dict[str, Any], zone: ZoneInfo) -> CalendarEvent | None:
    """A Google event as a neutral event (None when it has no usable start)."""
    if not item.get("start"):
        return None
    start, all_day = _when(item["start"], zone)
    end = _when(item["end"], zone)[0] if item.get("end") else start + timedelta(days=1)
    return CalendarEvent(
        uid=item["id"], summary=item["summary"], description=item["description"],
        start=start.astimezone(ZoneInfo("UTC")), end=end.astimezone(ZoneInfo("UTC")),
        all_day=all_day, status=item["status"].upper(), event_type=item["eventType"],
        transparent=item["transparency"] == "transparent")


class GoogleCalendarSource:
    """One OSC's Google calendar, read through the service account as that OSC."""

    def __init__(
        self, *, calendar_id: str, credentials: Any, time_zone: str, policies: Policies,
        api_endpoint: str | None = None, sleep: Callable[[float], None] = time.sleep,
        max_tries: int = 5,
    ) -> None:
        self._service = _service_for(api_endpoint)
        self._events = _events_for(api_endpoint)
        # One client serves every OSC; each source brings its own authorised transport.
        self._http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=30))
        self.calendar_id = calendar_id
        self.zone = ZoneInfo(time_zone)
        self.policies = policies
        self._sleep = sleep
        self._max_tries = max_tries

    @property
    def service(self) -> Any:
        """The Calendar API client (push channels use it too)."""
        return _Bound(self._service, self._http)

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """Absences overlapping `[start, end)`; `unchanged=True` when nothing changed."""
        events: dict[str, dict[str, Any]] = json.loads(cursor.get("events", "{}"))
        token = cursor.get("sync_token")
        changed = True
        if token:
            try:
                items, token = self._list(syncToken=token)
            except _Gone:
                events, token = {}, None
            else:
                changed = bool(items)
                for item in items:
                    if item.get("status") == "cancelled":
                        events.pop(item["id"], None)
                    else:
                        events[item["id"]] = compact(item)
        if not token:
            floor = start - self.policies.long_term_after
            items, token = self._list(timeMin=floor.isoformat(), showDeleted=False)
            events = {i["id"]: compact(i) for i in items if i.get("status") != "cancelled"}
        new_cursor = {"sync_token": token or "", "events": json.dumps(events, sort_keys=True)}
        if not changed:
            return CalendarRead(absences=(), unchanged=True, cursor=new_cursor)
        neutral = [e for e in (to_event(i, self.zone) for i in events.values()) if e]
        absences, skipped = absences_from_events(neutral, policies=self.policies)
        return CalendarRead(
            absences=tuple(a for a in absences if a.overlaps(start, end)),
            skipped=tuple(s for s in skipped), cursor=new_cursor)

    def _list(self, **params: str | bool) -> tuple[list[dict[str, Any]], str | None]:
        items: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            response = self._execute(dict(params, pageToken=page) if page else params)
            items.extend(response.get("items", []))
            page = response.get("nextPageToken")
            if not page:
                return items, response.get("nextSyncToken")

    def _execute(self, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in self._attempts():
            request = self._events.list(
                calendarId=self.calendar_id, singleEvents=True, maxResults=PAGE_SIZE, **params)
            try:
                result: dict[str, Any] = request.execute(http=self._http, num_retries=0)
                return result
            except HttpError as exc:
                status, reason, message = _explain(exc)
                if status == 410:
                    raise _Gone from None
                retry = status == 429 or status >= 500 or (status == 403
                                                           and reason in RETRY_REASONS)
                if not retry or attempt == self._max_tries - 1:
                    raise CalendarError(
                        f"Google Calendar {self.calendar_id}: HTTP {status} {reason or ''} "
                        f"{message}".strip()) from None
            except GoogleAuthError as exc:
                raise CalendarError(f"Google Calendar {self.calendar_id}: the service account "
                                    f"was refused ({type(exc).__name__}); check the key and "
                                    "domain-wide delegation") from None
            except OSError as exc:
                if attempt == self._max_tries - 1:
                    raise CalendarError(f"Google Calendar {self.calendar_id}: network error "
                                        f"({type(exc).__name__})") from None
            # Full jitter: spread retries from many calendars over the window.
            self._sleep(random.uniform(0, min(32.0, 2.0 ** attempt)))
        raise CalendarError(f"Google Calendar {self.calendar_id}: gave up")

    def _attempts(self) -> Iterator[int]:
        return iter(range(self._max_tries))


@functools.cache
def _service_for(api_endpoint: str | None) -> Any:
    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    return build("calendar", "v3", http=httplib2.Http(), static_discovery=True,
                 cache_discovery=False, client_options=options)


@functools.cache
def _events_for(api_endpoint: str | None) -> Any:
    return _service_for(api_endpoint).events()


class _Bound:
    """The shared client with one OSC's transport: `.events()`/`.channels()` requests
    execute as that OSC."""

    def __init__(self, service: Any, http: Any) -> None:
        self._service = service
        self._http = http

    def events(self) -> _BoundCollection:
        """events.* with this OSC's credentials."""
        return _BoundCollection(self._service.events(), self._http)

    def channels(self) -> _BoundCollection:
        """channels.* with this OSC's credentials."""
        return _BoundCollection(self._service.channels(), self._http)


class _BoundCollection:
    def __init__(self, collection: Any, http: Any) -> None:
        self._collection = collection
        self._http = http

    def __getattr__(self, method: str) -> Callable[..., _BoundRequest]:
        def call(**kwargs: Any) -> _BoundRequest:
            return _BoundRequest(getattr(self._collection, method)(**kwargs), self._http)

        return call


class _BoundRequest:
    def __init__(self, request: Any, http: Any) -> None:
        self._request = request
        self._http = http

    def execute(self, num_retries: int = 0) -> Any:
        return self._request.execute(http=self._http, num_retries=num_retries)


class _Gone(Exception):
    """The sync token expired (HTTP 410): a full sync is needed."""


def _explain(exc: HttpError) -> tuple[int, str, str]:
    status = int(exc.resp.status)
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
        reasons = [e.get("reason", "") for e in error.get("errors", [])]
        return status, (reasons[0] if reasons else ""), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return status, "", ""


def source(where: str, setup: CalendarSetup) -> GoogleCalendarSource | None:
    """A Google calendar id, read as the OSC through the service account in
    GOOGLE_APPLICATION_CREDENTIALS; None without that key."""
    if setup.google_key is None:
        return None
    return GoogleCalendarSource(
        calendar_id=where, time_zone=setup.zone, policies=setup.policies,
        credentials=delegated_credentials(setup.google_key, subject=setup.osc_email))
