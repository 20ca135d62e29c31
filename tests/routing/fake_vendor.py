"""A small local HTTP server for vendor fakes: JSON routes, recorded requests, injected
failures (429 with Retry-After, 5xx, 401), over real HTTP on loopback."""

from __future__ import annotations

import json
import ssl
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


class FakeVendor(LoopbackServer):
    """`with FakeVendor(route, auth=...) as vendor:`; `vendor.url` is the base URL."""

    def __init__(self, route: Route, *, auth: str | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.route = route
        self.auth = auth
        self.requests: list[Request] = []
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        super().__init__(self._handler(), tls)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return self.base

    def fail_next(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next request with `status`."""
        self.failures.append((status, headers or {}))

    def writes(self) -> list[Request]:
        """Every request that would change something."""
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

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
                fake.requests.append(Request(self.command, parsed.path, parse_qs(parsed.query),
                                             headers, body))
                if fake.failures:
                    status, extra = fake.failures.popleft()
                    self._send(status, {"error": f"injected {status}"}, extra)
                    return
                if fake.auth is not None and headers.get("authorization") != fake.auth:
                    self._send(401, {"error": "Unauthorized"})
                    return
                status, answer = fake.route(self.command, parsed.path, parse_qs(parsed.query),
                                            body)
                self._send(status, answer)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None
                      ) -> None:
                send_json(self, status, body, headers)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
