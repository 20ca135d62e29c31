"""A local fake of the Slack Web API over real HTTP: records every call, answers
with Slack's response shapes, and can inject 429 (with Retry-After) or 500.

Posted messages are kept per conversation with their metadata, and
conversations.history returns them as Slack does: newest first, `oldest`/`latest`
bounds, `limit` with a cursor, metadata only with `include_all_metadata`. For fault
tests it can answer 429 to every n-th call and sit on some posts after storing them
until the client times out.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.server import LoopbackServer, send_json

TOKEN = "xoxb-test-token"


@dataclass
class SlackCall:
    """One Web API call the fake received."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    status: int = 200


class FakeSlack(LoopbackServer):
    """`with FakeSlack() as slack:`; point clients at `slack.url`."""

    def __init__(self) -> None:
        self.calls_made: list[SlackCall] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.uploaded: list[int] = []
        self.tokens: set[str] = {TOKEN}
        self._failures: dict[str, deque[tuple[int, float]]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._last_ts = 0.0
        self._lock = threading.Lock()
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.rate_limit_every = 0
        self.stall_every = 0
        self.stall_seconds = 0.0
        self._served = 0
        self._posted = 0
        super().__init__(self._handler())

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages stored in a conversation, oldest first."""
        with self._lock:
            return list(self.history[channel])

    def _new_ts(self) -> str:
        # Slack timestamps are unique per channel and grow with time.
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    @property
    def url(self) -> str:
        """Base URL of the fake Web API (ends with a slash, like Slack's)."""
        return f"{self.base}/api/"

    def add_user(self, email: str, user_id: str, name: str = "") -> None:
        """A workspace member the fake knows by email and id."""
        self.users[user_id] = {"id": user_id, "name": name or email.split("@")[0],
                               "real_name": name, "tz": "America/Chicago",
                               "profile": {"email": email, "real_name": name}}

    def fail_next(self, method: str, status: int, times: int = 1,
                  retry_after: float = 1.0) -> None:
        """Answer the next `times` calls of `method` with `status`."""
        self._failures[method].extend([(status, retry_after)] * times)

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Arguments of every call of one method that was answered 200, in order."""
        return [c.args for c in self.calls_made if c.method == method and c.status == 200]

    def attempts(self, method: str) -> int:
        """How many times a method was called, failures included."""
        return sum(1 for c in self.calls_made if c.method == method)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://riverside.slack.com/", "team": "Riverside",
                    "user": "oscbot", "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"}
        if method == "chat.postMessage":
            return self._post(args)
        if method == "chat.update":
            channel = str(args.get("channel", ""))
            ts = str(args.get("ts", ""))
            stored = next((m for m in self.history[channel] if m["ts"] == ts), None)
            if stored is None:
                return {"ok": False, "error": "message_not_found"}
            stored.update(text=args.get("text", ""), blocks=args.get("blocks"))
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"type": "message", "text": args.get("text", ""), "ts": ts}}
        if method == "conversations.history":
            return self._history(args)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "conversations.open":
            user = str(args.get("users", "")).split(",")[0]
            return {"ok": True, "channel": {"id": "D" + user}}
        if method == "users.lookupByEmail":
            for user in self.users.values():
                if user["profile"]["email"] == args.get("email"):
                    return {"ok": True, "user": user}
            return {"ok": False, "error": "users_not_found"}
        if method == "users.info":
            user = self.users.get(str(args.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False,
                                                             "error": "user_not_found"}
        if method == "oauth.v2.access":
            if args.get("code") != "install-code":
                return {"ok": False, "error": "invalid_code"}
            self.tokens.add("xoxb-installed-token")
            return {"ok": True, "access_token": "xoxb-installed-token", "token_type": "bot",
                    "scope": "chat:write,commands", "bot_user_id": "UBOT", "app_id": "A1",
                    "team": {"id": "T1", "name": "Riverside"}, "enterprise": None,
                    "is_enterprise_install": False, "authed_user": {"id": "UDANA"}}
        if method == "files.getUploadURLExternal":
            return {"ok": True, "file_id": "F1", "upload_url": self.url.replace(
                "/api/", "/upload/F1")}
        if method == "files.completeUploadExternal":
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")}
                                          for f in files or []]}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {"id": "V1", **(view or {})}}
        return {"ok": False, "error": "unknown_method"}

    def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("blocks")):
            return {"ok": False, "error": "no_text"}
        metadata = args.get("metadata")
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        if metadata is not None and not (
                isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
                and isinstance(metadata.get("event_payload"), dict)):
            return {"ok": False, "error": "invalid_metadata_format"}
        ts = self._new_ts()
        message: dict[str, Any] = {"type": "message", "text": args.get("text", ""), "ts": ts,
                                   "bot_id": "B1", "user": "UBOT"}
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        if metadata is not None:
            message["metadata"] = metadata
        self.history[channel].append(message)
        shown = {k: v for k, v in message.items() if k != "metadata"}
        return {"ok": True, "channel": channel, "ts": ts, "message": shown}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if channel not in self.history and not channel.startswith(("C", "D", "#")):
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or time.time() + 1)
        limit = min(int(args.get("limit") or 100), 999)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("true", "1")
        newest_first = [m for m in reversed(self.history[channel])
                        if oldest < float(m["ts"]) < latest]
        start = int(args.get("cursor") or 0)
        page = newest_first[start:start + limit]
        more = start + limit < len(newest_first)
        messages = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
                    for m in page]
        return {"ok": True, "messages": messages, "has_more": more, "pin_count": 0,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                # Some Web API methods (users.info, ...) are sent as GET with a query string.
                path, _, query = self.path.partition("?")
                self._handle(path, {k: v[0] for k, v in parse_qs(query).items()})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                if self.path.startswith("/upload/"):
                    with fake._lock:
                        fake.uploaded.append(len(data))
                    self._send(200, {"ok": True})
                    return
                raw = data.decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    args: dict[str, Any] = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                path, _, query = self.path.partition("?")
                args.update({k: v[0] for k, v in parse_qs(query).items()})
                self._handle(path, args)

            def _handle(self, path: str, args: dict[str, Any]) -> None:
                method = path.split("/api/", 1)[-1]
                with fake._lock:
                    failure = (fake._failures[method].popleft()
                               if fake._failures[method] else None)
                    fake._served += 1
                    if (failure is None and fake.rate_limit_every
                            and fake._served % fake.rate_limit_every == 0):
                        failure = (429, 1.0)
                    headers = {**dict(self.headers.items()), "X-Received-At": str(time.time())}
                    fake.calls_made.append(SlackCall(method, args, headers,
                                                     failure[0] if failure else 200))
                if failure is not None:
                    status, retry_after = failure
                    body = {"ok": False, "error": "ratelimited" if status == 429 else "fatal"}
                    self._send(status, body, {"Retry-After": str(int(retry_after))}
                               if status == 429 else {})
                    return
                if method == "oauth.v2.access":
                    with fake._lock:
                        body = fake._answer(method, args)
                    self._send(200, body)
                    return
                if self.headers.get("Authorization") not in {f"Bearer {t}" for t in fake.tokens}:
                    self._send(200, {"ok": False, "error": "invalid_auth"})
                    return
                with fake._lock:
                    body = fake._answer(method, args)
                    stall = False
                    if method == "chat.postMessage" and body.get("ok"):
                        fake._posted += 1
                        stall = bool(fake.stall_every and fake._posted % fake.stall_every == 0)
                if stall:
                    # Stored, but the answer comes too late: the client sees a timeout.
                    time.sleep(fake.stall_seconds)
                    with contextlib.suppress(OSError):
                        self._send(200, body)
                    return
                self._send(200, body)

            def _send(self, status: int, body: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                send_json(self, status, body, headers,
                          content_type="application/json; charset=utf-8")

            def log_message(self, *args: object) -> None:
                pass

        return Handler
