"""A local fake of the Slack Web API over real HTTP: records every call, answers
with Slack's response shapes, and can inject 429 (with Retry-After) or 500.

It is strict: it refuses what Slack refuses (see `slack_rules`): bad tokens, channel
names where ids belong, channels oscbot is not in, edits of messages it never sent,
and blocks or views that break Block Kit's rules. Posted messages are kept per
conversation with their metadata, and conversations.history returns them as Slack
does: newest first, `oldest`/`latest` bounds, `limit` with a cursor, metadata only with
`include_all_metadata`. For fault tests it can answer 429 to every n-th call and sit on
some posts after storing them until the client times out.

It also hands out response_urls (`response_url()`) and takes the answers posted to them
as Slack does: JSON, at most five within thirty minutes, refused when malformed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.fakes.server import LoopbackServer, send_json
from tests.fakes.slack_rules import (
    CHANNEL_ID,
    Refused,
    check_message,
    check_response,
    check_view,
    parse,
)

TOKEN = "xoxb-test-token"
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"
TEAM_CHANNEL = "C0SALES01"
# A response_url takes up to 5 answers within 30 minutes of the command or interaction
# that came with it (Slack's "Handling user interaction"); after that Slack answers 404.
RESPONSE_USES = 5
RESPONSE_LIFETIME = 30 * 60


# Bot scopes Slack requires per Web API method (its "Required scopes"); conversation
# methods are resolved per conversation kind in FakeSlack._scope_needed.
_METHOD_SCOPES = {
    "chat.postMessage": "chat:write", "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write", "conversations.open": "im:write",
    "users.lookupByEmail": "users:read.email", "users.info": "users:read",
    "files.getUploadURLExternal": "files:write", "files.completeUploadExternal": "files:write",
}


def manifest_scopes() -> list[str]:
    """The bot scopes manifest.yaml asks for: what an install grants."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return list(manifest["oauth_config"]["scopes"]["bot"])


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
        # What the installed app was granted (auth.test's x-oauth-scopes header).
        self.scopes: list[str] = manifest_scopes()
        self.channels: dict[str, dict[str, Any]] = {}
        self.add_channel(TEAM_CHANNEL, "online-sales")
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.refused: list[tuple[str, str, list[str]]] = []
        self._failures: dict[str, deque[tuple[int, float]]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        # Posted messages per conversation with their metadata, as conversations.history
        # returns them; fault injection for the replica tests.
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.rate_limit_every = 0
        # Seconds the every-n-th 429 asks to wait (Retry-After); fault runs use less than
        # Slack's usual 1 s so thousands of messages fit a CI run.
        self.rate_limit_retry_after = 1.0
        self.stall_every = 0
        self.stall_seconds = 0.0
        self._served = 0
        self._posted = 0
        self._last_ts = 0.0
        # Slack's clock, in epoch seconds: message timestamps and history windows. A test
        # whose oscbot runs on a fixed clock sets it, as real Slack and oscbot share time.
        self.clock: Callable[[], float] = time.time
        # response_url paths handed out (with when, on Slack's clock) and what each took.
        self._response_urls: dict[str, float] = {}
        self._responded: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._minted = itertools.count(1)
        super().__init__(self._handler())

    def response_url(self) -> str:
        """A fresh response_url, as Slack puts one in each command and interaction."""
        with self._lock:
            path = f"/commands/T1/{next(self._minted)}/{secrets.token_hex(12)}"
            self._response_urls[path] = self.clock()
        return self.base + path

    def responses(self, url: str) -> list[dict[str, Any]]:
        """The answers one response_url accepted, in order."""
        with self._lock:
            return list(self._responded.get(urlsplit(url).path, []))

    def _respond(self, path: str, content_type: str, raw: str) -> tuple[int, str]:
        """Slack's answer to a post at a response_url: 200 `ok`, or a status and code."""
        minted = self._response_urls.get(path)
        if minted is None:
            return 404, "no_service"
        if self.clock() - minted > RESPONSE_LIFETIME:
            return 404, "expired_url"
        if len(self._responded[path]) >= RESPONSE_USES:
            return 404, "used_url"
        try:
            if "json" not in content_type:
                raise Refused("invalid_payload", ["a response_url takes JSON"])
            try:
                args = json.loads(raw)
            except ValueError:
                raise Refused("invalid_payload", ["the body is not JSON"]) from None
            check_response(args)
        except Refused as refused:
            self.refused.append(("response_url", refused.code, refused.errors))
            return 400, refused.code
        self._responded[path].append(args)
        return 200, "ok"

    def history_of(self, channel: str) -> list[dict[str, Any]]:
        """Messages posted in a conversation, oldest first, metadata included."""
        with self._lock:
            return list(self.history[channel])

    def _new_ts(self) -> str:
        # Slack timestamps are unique per channel and grow with time.
        now = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def _conversation_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        self._channel(channel, post=False)
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or self.clock() + 1)
        limit = min(int(args.get("limit") or 100), 999)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("true", "1")
        newest_first = [m for m in reversed(self.history[channel])
                        if oldest < float(m["ts"]) < latest]
        start = int(args.get("cursor") or 0)
        page = newest_first[start:start + limit]
        more = start + limit < len(newest_first)
        return {"ok": True, "has_more": more, "pin_count": 0,
                "messages": [m if with_metadata else {k: v for k, v in m.items()
                                                      if k != "metadata"} for m in page],
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    @property
    def url(self) -> str:
        """Base URL of the fake Web API (ends with a slash, like Slack's)."""
        return f"{self.base}/api/"

    def add_user(self, email: str, user_id: str, name: str = "") -> None:
        """A workspace member the fake knows by email and id."""
        self.users[user_id] = {"id": user_id, "name": name or email.split("@")[0],
                               "real_name": name, "tz": "America/Chicago",
                               "profile": {"email": email, "real_name": name}}

    def add_channel(self, channel_id: str, name: str, *, member: bool = True,
                    private: bool = False) -> None:
        """A channel in the workspace; oscbot is in it unless `member` is False."""
        self.channels[channel_id] = {"id": channel_id, "name": name, "is_channel": True,
                                     "is_private": private, "is_member": member,
                                     "is_archived": False}

    def posts(self, channel: str = TEAM_CHANNEL) -> list[dict[str, Any]]:
        """Messages accepted into one channel, in order."""
        return [c for c in self.calls("chat.postMessage") if c["channel"] == channel]

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
        needed = self._scope_needed(method, args)
        if needed is not None and needed not in self.scopes:
            self.refused.append((method, "missing_scope", [needed]))
            return {"ok": False, "error": "missing_scope", "needed": needed,
                    "provided": ",".join(self.scopes)}
        try:
            return self._checked(method, args)
        except Refused as refused:
            self.refused.append((method, refused.code, refused.errors))
            return {"ok": False, "error": refused.code, "errors": refused.errors,
                    "response_metadata": {"messages": [f"[ERROR] {e}"
                                                       for e in refused.errors]}}

    def _scope_needed(self, method: str, args: dict[str, Any]) -> str | None:
        """The bot scope Slack requires for this call (each method's "Required scopes");
        for conversation methods it depends on the kind of conversation."""
        if method in _METHOD_SCOPES:
            return _METHOD_SCOPES[method]
        if method in ("conversations.history", "conversations.info"):
            channel = str(args.get("channel", ""))
            found = self.channels.get(channel)
            kind = ("im" if channel.startswith("D") else
                    "groups" if found is not None and found["is_private"] else "channels")
            return f"{kind}:{'history' if method == 'conversations.history' else 'read'}"
        if method == "conversations.list":
            types = str(args.get("types") or "public_channel")
            return "groups:read" if "private_channel" in types else "channels:read"
        return None

    def _channel(self, channel: str, *, post: bool) -> None:
        if channel.startswith("D"):
            if channel[1:] not in self.users:
                raise Refused("channel_not_found", [])
            return
        found = self.channels.get(channel)
        if found is None or (found["is_private"] and not found["is_member"]):
            raise Refused("channel_not_found", [])
        if post and not found["is_member"]:
            raise Refused("not_in_channel", [])

    def _checked(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://riverside.slack.com/", "team": "Riverside",
                    "user": "oscbot", "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            check_message(args)
            channel = str(args["channel"])
            self._channel(channel, post=True)
            if method == "chat.postEphemeral":
                if str(args.get("user", "")) not in self.users:
                    raise Refused("user_not_in_channel", [])
                return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
            if method == "chat.update" and (channel, str(args.get("ts"))) not in self.messages:
                raise Refused("message_not_found", [])
            metadata = parse(args["metadata"]) if args.get("metadata") is not None else None
            if metadata is not None and not (
                    isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
                    and isinstance(metadata.get("event_payload"), dict)):
                raise Refused("invalid_metadata_format", ["metadata needs event_type and "
                                                          "an event_payload object"])
            ts = str(args.get("ts") or self._new_ts())
            self.messages[(channel, ts)] = args
            if method == "chat.postMessage":
                stored: dict[str, Any] = {"type": "message", "text": args.get("text", ""),
                                          "ts": ts, "bot_id": "B1", "user": "UBOT"}
                if metadata is not None:
                    stored["metadata"] = metadata
                self.history[channel].append(stored)
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"type": "message", "text": args.get("text", ""), "ts": ts}}
        if method == "conversations.history":
            return self._conversation_history(args)
        if method == "conversations.list":
            return {"ok": True, "channels": [c for c in self.channels.values()
                                             if c["is_member"] or not c["is_private"]],
                    "response_metadata": {"next_cursor": ""}}
        if method == "conversations.info":
            channel = str(args.get("channel", ""))
            self._channel(channel, post=False)
            return {"ok": True, "channel": self.channels[channel]}
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
            channel = str(args.get("channel_id", ""))
            if not CHANNEL_ID.match(channel):
                raise Refused("invalid_channel", [f"{channel!r} is not a channel id"])
            self._channel(channel, post=True)
            files = parse(args.get("files"))
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")}
                                          for f in files or []]}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            # Each method's own required argument (Slack answers invalid_arguments).
            needed = {"views.open": "trigger_id", "views.push": "trigger_id",
                      "views.publish": "user_id", "views.update": "view_id"}[method]
            if not args.get(needed) and not (method == "views.update"
                                             and args.get("external_id")):
                raise Refused("invalid_arguments", [f"{needed} is required"])
            view = parse(args.get("view"))
            if method == "views.publish" and (view or {}).get("type") != "home":
                raise Refused("invalid_arguments", ["views.publish takes a home view"])
            check_view(view)
            return {"ok": True, "view": {"id": "V1", **view}}
        return {"ok": False, "error": "unknown_method"}

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
                if self.path.startswith(("/commands/", "/actions/")):
                    with fake._lock:
                        status, answer = fake._respond(
                            self.path, self.headers.get("Content-Type") or "", data.decode())
                    # Slack answers a response_url in plain text: `ok` or the error code.
                    text = answer.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
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
                        failure = (429, fake.rate_limit_retry_after)
                    headers = {**dict(self.headers.items()), "X-Received-At": str(time.time())}
                    fake.calls_made.append(SlackCall(method, args, headers,
                                                     failure[0] if failure else 200))
                if failure is not None:
                    status, retry_after = failure
                    body = {"ok": False, "error": "ratelimited" if status == 429 else "fatal"}
                    self._send(status, body, {"Retry-After": f"{retry_after:g}"}
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
                self._send(200, body, {"x-oauth-scopes": ",".join(fake.scopes)}
                           if method == "auth.test" else None)

            def _send(self, status: int, body: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                send_json(self, status, body, headers,
                          content_type="application/json; charset=utf-8")

            def log_message(self, *args: object) -> None:
                pass

        return Handler
