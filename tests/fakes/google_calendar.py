"""A local fake of the Google Calendar API (events.list with paging and sync tokens, push
channels) and of Google's OAuth token endpoint, over real HTTP, recording every request.

Strict where Google is (the Calendar API discovery document google-api-python-client
ships, https://developers.google.com/calendar/api/guides/sync and
https://developers.google.com/calendar/api/guides/push):

- `maxResults` above 2500 is refused;
- beside `syncToken`, the parameters Google forbids (iCalUID, orderBy,
  privateExtendedProperty, q, sharedExtendedProperty, timeMin, timeMax, updatedMin) and
  `showDeleted=false` are refused;
- a watch channel's address must be HTTPS.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from tests.fakes.server import LoopbackServer, send_json

NOT_WITH_SYNC_TOKEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q",
                       "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class CalendarState:
    """One calendar's events and their change history, for sync tokens."""

    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)


class FakeGoogle(LoopbackServer):
    """Start with `with FakeGoogle() as google:`; `google.url` is the API endpoint."""

    def __init__(self, page_size: int = 2) -> None:
        self.calendars: dict[str, CalendarState] = {}
        self.requests: list[Recorded] = []
        self.failures: deque[tuple[int, str]] = deque()
        self.page_size = page_size
        self.expired_tokens: set[str] = set()
        self.channels: dict[str, dict[str, Any]] = {}
        self.watch_expiration_ms = 1796000000000
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        """The Calendar API endpoint to hand the client."""
        return f"{self.base}/calendar/v3/"

    def put(self, calendar_id: str, event: dict[str, Any]) -> None:
        """Create or change an event (a change the next sync will report)."""
        with self._lock:
            state = self.calendars.setdefault(calendar_id, CalendarState())
            state.events[event["id"]] = event
            state.changes.append(event)

    def delete(self, calendar_id: str, event_id: str) -> None:
        """Cancel an event (reported as status cancelled to incremental syncs)."""
        with self._lock:
            state = self.calendars[calendar_id]
            state.events.pop(event_id)
            state.changes.append({"id": event_id, "status": "cancelled"})

    def fail_next(self, status: int, reason: str = "", times: int = 1) -> None:
        """Answer the next `times` API calls with an error shaped like Google's."""
        self.failures.extend([(status, reason)] * times)

    def api_requests(self) -> list[Recorded]:
        """Requests to the Calendar API (not the token endpoint)."""
        return [r for r in self.requests if r.path.startswith("/calendar/v3/")]

    def token_subjects(self) -> list[str]:
        """The `sub` claim of every JWT assertion sent to the token endpoint."""
        subjects = []
        for r in self.requests:
            if r.path == "/token":
                assertion = parse_qs(r.body.decode())["assertion"][0]
                payload = assertion.split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                subjects.append(claims.get("sub", ""))
        return subjects

    def _list(self, calendar_id: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        state = self.calendars.get(calendar_id)
        if state is None:
            return 404, _error(404, "notFound", "Not Found")
        if int(query.get("maxResults", ["250"])[0]) > 2500:
            return 400, _error(400, "invalid", "Invalid value for: maxResults: the page size "
                               "can never be larger than 2500 events")
        token = query.get("syncToken", [None])[0]
        if token is not None:
            forbidden = [p for p in NOT_WITH_SYNC_TOKEN if p in query]
            if query.get("showDeleted") == ["false"]:
                forbidden.append("showDeleted=false")
            if forbidden:
                return 400, _error(400, "invalid", f"{', '.join(forbidden)} cannot be used "
                                   "with syncToken")
            if token in self.expired_tokens:
                return 410, _error(410, "fullSyncRequired", "Sync token is no longer valid.")
            items = state.changes[int(token):]
        else:
            items = list(state.events.values())
        offset = int(query.get("pageToken", ["0"])[0])
        page = items[offset:offset + self.page_size]
        body: dict[str, Any] = {"kind": "calendar#events", "summary": calendar_id,
                                "timeZone": "America/Chicago", "items": page}
        if offset + self.page_size < len(items):
            body["nextPageToken"] = str(offset + self.page_size)
        else:
            body["nextSyncToken"] = str(len(state.changes))
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                send_json(self, status, body, content_type="application/json; charset=UTF-8")

            def _record(self) -> Recorded:
                length = int(self.headers.get("Content-Length") or 0)
                parsed = urlparse(self.path)
                recorded = Recorded(self.command, parsed.path, parse_qs(parsed.query),
                                    {k.lower(): v for k, v in self.headers.items()},
                                    self.rfile.read(length) if length else b"")
                fake.requests.append(recorded)
                return recorded

            def do_POST(self) -> None:
                recorded = self._record()
                if recorded.path == "/token":
                    self._answer(200, {"access_token": "ya29.fake-token", "expires_in": 3600,
                                       "token_type": "Bearer"})
                    return
                if recorded.path.endswith("/events/watch"):
                    body = json.loads(recorded.body)
                    if not str(body.get("address", "")).startswith("https://"):
                        self._answer(400, _error(400, "push.webhookUrlNotHttps",
                                                 "WebHook callback must be HTTPS: "
                                                 f"{body.get('address')}"))
                        return
                    fake.channels[body["id"]] = body
                    self._answer(200, {"kind": "api#channel", "id": body["id"],
                                       "resourceId": "res-" + body["id"][:8],
                                       "resourceUri": recorded.path,
                                       "token": body.get("token"),
                                       "expiration": str(fake.watch_expiration_ms)})
                    return
                if recorded.path == "/calendar/v3/channels/stop":
                    body = json.loads(recorded.body)
                    if fake.channels.pop(body["id"], None) is None:
                        self._answer(404, _error(404, "notFound", "Channel not found"))
                        return
                    self.send_response(204)
                    self.end_headers()
                    return
                self._answer(404, _error(404, "notFound", "Not Found"))

            def do_GET(self) -> None:
                recorded = self._record()
                if fake.failures:
                    status, reason = fake.failures.popleft()
                    self._answer(status, _error(status, reason, f"injected {status}"))
                    return
                if recorded.headers.get("authorization") != "Bearer ya29.fake-token":
                    self._answer(401, _error(401, "authError", "Invalid Credentials"))
                    return
                parts = recorded.path.split("/")
                if len(parts) == 6 and parts[3] == "calendars" and parts[5] == "events":
                    with fake._lock:
                        status, body = fake._list(unquote(parts[4]), recorded.query)
                    self._answer(status, body)
                    return
                self._answer(404, _error(404, "notFound", "Not Found"))

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _error(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message,
                      "errors": [{"domain": "global", "reason": reason, "message": message}]}}
