"""A small local HTTP server for vendor fakes: JSON routes, recorded requests, injected
failures (429 with Retry-After, 5xx, 401), over real HTTP on loopback.

A fake either passes a `route` (method, path, query, body) -> (status, body), or
subclasses FakeVendor and overrides `answer(request)` to see the headers and raw body
and to answer with headers of its own (a vendor's rate-limit headers, a Host check).
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.server import LoopbackServer, send_json

Route = Callable[[str, str, dict[str, list[str]], Any], tuple[int, Any]]


@dataclass
class Request:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw: bytes = b""

    def form(self) -> dict[str, str]:
        """The body as an HTML form (application/x-www-form-urlencoded), one value a key."""
        return {k: v[0] for k, v in parse_qs(self.raw.decode(), keep_blank_values=True).items()}


@dataclass(frozen=True)
class Raw:
    """A non-JSON answer body (XML, plain text)."""

    data: bytes
    content_type: str


@dataclass(frozen=True)
class Reply:
    """What the fake answers: a status, a JSON-ready body (or Raw), extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] | None = None


class FakeVendor(LoopbackServer):
    """`with FakeVendor(route, auth=...) as vendor:`; `vendor.url` is the base URL."""

    def __init__(self, route: Route | None = None, *, auth: str | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.route = route
        self.auth = auth
        self.requests: list[Request] = []
        self.failures: deque[tuple[int, dict[str, str], Any]] = deque()
        # Requests are served on several threads: a fake's state changes under this lock.
        self.lock = threading.RLock()
        super().__init__(self._handler(), tls)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return self.base

    def fail_next(self, status: int, headers: dict[str, str] | None = None,
                  body: Any = None) -> None:
        """Answer the next request with `status` (and this body, else a generic one)."""
        self.failures.append((status, headers or {}, body))

    def writes(self) -> list[Request]:
        """Every request that would change something."""
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def answer(self, request: Request) -> Reply:
        """The reply to one request (after injected failures); subclasses override."""
        if self.auth is not None and request.headers.get("authorization") != self.auth:
            return self.unauthorized(request)
        assert self.route is not None, "a FakeVendor needs a route or an answer()"
        status, body = self.route(request.method, request.path, request.query, request.body)
        return Reply(status, body)

    def unauthorized(self, request: Request) -> Reply:
        """The answer to a request without the right credentials."""
        return Reply(401, {"error": "Unauthorized"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                parsed = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(self.command, parsed.path,
                                  parse_qs(parsed.query, keep_blank_values=True), headers,
                                  body, raw)
                with fake.lock:
                    fake.requests.append(request)
                    if fake.failures:
                        status, extra, failure = fake.failures.popleft()
                        reply = Reply(status, failure if failure is not None
                                      else {"error": f"injected {status}"}, extra)
                    else:
                        reply = fake.answer(request)
                self._send(reply)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def _send(self, reply: Reply) -> None:
                # The client may have given up waiting, as a client of a real service may.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._write(reply)

            def _write(self, reply: Reply) -> None:
                if isinstance(reply.body, Raw):
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.body.content_type)
                    self.send_header("Content-Length", str(len(reply.body.data)))
                    for key, value in (reply.headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(reply.body.data)
                    return
                send_json(self, reply.status, reply.body, reply.headers)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


class VirtualClock:
    """Seconds that pass only when told: a fake's rate window and an adapter's pauses share
    it, so pacing is tested without waiting."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass (an adapter's `sleep`)."""
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
