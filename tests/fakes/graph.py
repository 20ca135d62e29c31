"""A local fake of Microsoft Graph and of the Entra token endpoint, over real HTTP.

Strict where Graph is: bearer tokens it issued, application permissions (the token's
`roles`, or an Exchange RBAC grant per mailbox), four concurrent requests per mailbox
(the fifth gets 429 MailboxConcurrency), `calendarView/delta` rounds with
`@odata.nextLink`/`@odata.deltaLink` state tokens, `@removed` entries, 410 for a
delta token it forgot, subscriptions no longer than 10,080 minutes whose endpoints
must pass the validation handshake, and read-only mail-enabled security groups.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import trustme

from tests.fakes.graph_model import ALL_ROLES, Mailbox, error
from tests.fakes.graph_routes import route
from tests.fakes.server import LoopbackServer, send_json
from tests.routing.fake_vendor import Request as Recorded

TENANT = "7f2c1e4a-tenant"
CLIENT_ID = "0a1b2c3d-oscbot"
CLIENT_SECRET = "graph-s3cret"


@dataclass
class Group:
    """A directory group: its kind decides whether Graph may change its members."""

    id: str
    mail: str
    members: list[str] = field(default_factory=list)
    group_types: tuple[str, ...] = ("Unified",)
    security_enabled: bool = False
    mail_enabled: bool = True


_CA_PATH: list[str] = []


@functools.cache
def _ca() -> trustme.CA:
    return trustme.CA()


def _ca_file() -> str:
    """The test CA's certificate as a PEM file (SSL_CERT_FILE / REQUESTS_CA_BUNDLE)."""
    if not _CA_PATH:
        handle = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)  # noqa: SIM115
        handle.write(_ca().cert_pem.bytes())
        handle.close()
        _CA_PATH.append(handle.name)
    return _CA_PATH[0]


@functools.cache
def _server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _ca().issue_cert("127.0.0.1").configure_cert(context)
    return context


class FakeGraph(LoopbackServer):
    """`with FakeGraph() as graph:`; `graph.base_url` and `graph.token_url` for the client."""

    def __init__(self, *, page_size: int = 2, delay: float = 0.0) -> None:
        # msal insists on an https authority, so the fake speaks TLS with a test CA.
        self.ca_file = _ca_file()
        self.mailboxes: dict[str, Mailbox] = {}
        self.groups: dict[str, Group] = {}
        self.users: dict[str, str] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.roles: set[str] = set(ALL_ROLES)
        self.rbac: dict[str, set[str]] = {}
        self.requests: list[Recorded] = []
        self.failures: deque[tuple[int, dict[str, str], str]] = deque()
        self.page_size = page_size
        self.delay = delay
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.throttled = 0
        self.handshakes: list[str] = []
        self._issued: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        super().__init__(self._handler(), tls=_server_context())

    @property
    def base_url(self) -> str:
        """GRAPH_BASE_URL for the client."""
        return f"{self.base}/v1.0"

    @property
    def token_url(self) -> str:
        """GRAPH_TOKEN_URL for the client."""
        return f"{self.base}/{TENANT}/oauth2/v2.0/token"

    def env(self) -> dict[str, str]:
        """The environment a deployment pointed at this fake would have."""
        return {"GRAPH_CLIENT_ID": CLIENT_ID, "GRAPH_CLIENT_SECRET": CLIENT_SECRET,
                "GRAPH_TENANT_ID": TENANT, "GRAPH_BASE_URL": self.base_url,
                "GRAPH_TOKEN_URL": self.token_url}

    def mailbox(self, address: str) -> Mailbox:
        """The mailbox with this address, created (with a directory user) on first use."""
        with self._lock:
            key = address.lower()
            if key not in self.mailboxes:
                self.mailboxes[key] = Mailbox(key)
                self.users.setdefault(key, f"user-{len(self.users) + 1:04d}")
            return self.mailboxes[key]

    def user(self, address: str) -> str:
        """A directory user without a mailbox (or the mailbox owner's id)."""
        with self._lock:
            return self.users.setdefault(address.lower(), f"user-{len(self.users) + 1:04d}")

    def fail_next(self, status: int, headers: dict[str, str] | None = None, *,
                  code: str = "", times: int = 1) -> None:
        """Answer the next `times` Graph API calls with `status`."""
        self.failures.extend([(status, headers or {}, code)] * times)

    def api(self, method: str | None = None) -> list[Recorded]:
        """Requests to Graph itself (not the token endpoint), optionally of one method."""
        return [r for r in self.requests if r.path.startswith("/v1.0/")
                and (method is None or r.method == method)]

    def writes(self) -> list[Recorded]:
        """Graph requests that change something."""
        return [r for r in self.api() if r.method in ("POST", "PATCH", "DELETE")]

    def notify(self, subscription_id: str, *, client_state: str | None = None,
               change_type: str = "updated", event_id: str = "AAMkAD-changed") -> int:
        """POST a change notification as Graph would; the endpoint's status code."""
        sub = self.subscriptions[subscription_id]
        item = {"subscriptionId": subscription_id, "changeType": change_type,
                "clientState": sub["clientState"] if client_state is None else client_state,
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "resource": f"Users/{sub['_user']}/Events/{event_id}", "tenantId": TENANT,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event",
                                 "@odata.id": f"Users/{sub['_user']}/Events/{event_id}",
                                 "id": event_id}}
        return httpx.post(sub["notificationUrl"], json={"value": [item]}, timeout=10).status_code

    def lifecycle(self, subscription_id: str, event: str) -> int:
        """POST a lifecycle notification (reauthorizationRequired, missed, subscriptionRemoved)."""
        sub = self.subscriptions[subscription_id]
        if event == "subscriptionRemoved":
            self.subscriptions.pop(subscription_id)
        item = {"subscriptionId": subscription_id, "lifecycleEvent": event,
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "clientState": sub["clientState"], "tenantId": TENANT}
        return httpx.post(sub["lifecycleNotificationUrl"], json={"value": [item]},
                          timeout=10).status_code

    # --- token endpoint ---------------------------------------------------------

    def _token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        first = {k: v[0] for k, v in form.items()}
        if first.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "AADSTS70003: grant type not supported."}
        if first.get("client_id") != CLIENT_ID or first.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client",
                         "error_description": "AADSTS7000215: Invalid client secret provided. "
                                              "Ensure the secret being sent in the request is "
                                              "the client secret value."}
        if not first.get("scope", "").endswith("/.default"):
            return 400, {"error": "invalid_scope",
                         "error_description": "AADSTS1002012: scope must end in /.default."}
        claims = {"aud": first["scope"].removesuffix("/.default"), "tid": TENANT,
                  "appid": CLIENT_ID, "roles": sorted(self.roles),
                  "exp": int(time.time()) + 3599, "n": next(self._ids)}
        token = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=")
                         for p in ({"typ": "JWT", "alg": "none"}, claims)) + ".sig"
        self._issued.add(token)
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": token}

    # --- Graph ------------------------------------------------------------------

    def _allowed(self, token: str, needed: frozenset[str], mailbox: str | None) -> bool:
        payload = token.split(".")[1]
        roles = set(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                    ["roles"])
        granted = roles | (self.rbac.get(mailbox, set()) if mailbox else set())
        return bool(granted & needed)

    def _route(self, method: str, parts: list[str], query: dict[str, list[str]],
               body: Any, headers: dict[str, str], token: str
               ) -> tuple[int, Any, dict[str, str]]:
        return route(self, method, parts, query, body, headers, token)

    def _handshake(self, url: str) -> bool:
        token = f"Validation: Testing client application reachability {next(self._ids)}"
        try:
            answer = httpx.post(url, params={"validationToken": token},
                                headers={"Content-Type": "text/plain; charset=utf-8"},
                                timeout=10)
        except httpx.HTTPError:
            return False
        self.handshakes.append(url)
        return (answer.status_code == 200 and answer.text == token
                and answer.headers.get("content-type", "").startswith("text/plain"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                parsed = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body: Any = json.loads(raw) if raw and "json" in headers.get(
                        "content-type", "") else raw.decode()
                except ValueError:
                    self._send(400, error("BadRequest", "Unable to read JSON request payload."))
                    return
                query = parse_qs(parsed.query)
                fake.requests.append(Recorded(self.command, parsed.path, query, headers, body))
                path = parsed.path
                if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                    base = f"{fake.base}/{TENANT}"
                    self._send(200, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                                     "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                                     "issuer": f"{base}/v2.0"})
                    return
                if path == f"/{TENANT}/oauth2/v2.0/token" and self.command == "POST":
                    status, answer = fake._token(parse_qs(body if isinstance(body, str) else ""))
                    self._send(status, answer)
                    return
                if not path.startswith("/v1.0/"):
                    self._send(404, error("NotFound", "no such endpoint"))
                    return
                self._graph(path, query, body, headers)

            def _graph(self, path: str, query: dict[str, list[str]], body: Any,
                       headers: dict[str, str]) -> None:
                if fake.failures:
                    status, extra, code = fake.failures.popleft()
                    self._send(status, error(code or f"Injected{status}", "injected"), extra)
                    return
                auth = headers.get("authorization", "")
                token = auth.removeprefix("Bearer ")
                if not auth.startswith("Bearer ") or token not in fake._issued:
                    self._send(401, error("InvalidAuthenticationToken",
                                          "Access token validation failure. Invalid audience."))
                    return
                parts = [unquote(p) for p in path.split("/")[2:]]
                mailbox = parts[1].lower() if len(parts) > 2 and parts[0] == "users" else None
                if mailbox is not None:
                    with fake._lock:
                        fake.in_flight[mailbox] = fake.in_flight.get(mailbox, 0) + 1
                        busy = fake.in_flight[mailbox]
                        fake.peak[mailbox] = max(fake.peak.get(mailbox, 0), busy)
                    if busy > 4:
                        with fake._lock:
                            fake.in_flight[mailbox] -= 1
                            fake.throttled += 1
                        self._send(429, error("ApplicationThrottled", "Application is over "
                                              "its MailboxConcurrency limit."),
                                   {"Retry-After": "1"})
                        return
                try:
                    if fake.delay:
                        time.sleep(fake.delay)
                    status, answer, extra = fake._route(self.command, parts, query, body,
                                                        headers, token)
                finally:
                    if mailbox is not None:
                        with fake._lock:
                            fake.in_flight[mailbox] -= 1
                self._send(status, answer, extra)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None
                      ) -> None:
                if status == 204:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                send_json(self, status, body, headers)

            def log_message(self, *args: object) -> None:
                pass

        return Handler





def graph_client(fake: FakeGraph, *, sleep: Callable[[float], None] | None = None,
                 per_mailbox: int = 4) -> Any:
    """A real GraphClient (msal tokens, httpx) configured as a deployment would be."""
    from bot.config.settings import Settings
    from m365.graph import GraphClient, GraphConfig

    config = GraphConfig.from_settings(Settings.from_env(fake.env()))
    assert config is not None
    return GraphClient(config, sleep=sleep or (lambda seconds: None), per_mailbox=per_mailbox,
                       verify=fake.ca_file)
