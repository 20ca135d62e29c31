"""The loopback HTTP server every fake vendor API runs on, in a background thread."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any,
              headers: dict[str, str] | None = None, *,
              content_type: str = "application/json") -> None:
    """Answer with `body` as JSON (nothing when None) and any extra headers."""
    data = json.dumps(body).encode() if body is not None else b""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


class _Server(ThreadingHTTPServer):
    # The standard library listens with an accept queue of 5: with tens of connections
    # opening at once the kernel drops the rest and clients retry a second later (SYN
    # retry), a stall no vendor API has. Real services accept them all.
    request_queue_size = 256
    daemon_threads = True


class LoopbackServer:
    """Serves a handler on 127.0.0.1 (ephemeral port) while used as a context manager.

    With `tls` (a server-side SSLContext) it speaks HTTPS, for clients that insist on it.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler],
                 tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True)

    @property
    def base(self) -> str:
        """http(s)://127.0.0.1:PORT"""
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
