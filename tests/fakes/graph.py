"""A local fake of Microsoft Graph and of the Entra token endpoint, over real HTTP.

Strict where Graph is:
- tokens: bearer tokens it issued, for its own audience (a token for another resource is
  refused as Graph refuses one: 401 InvalidAuthenticationToken, invalid audience);
- application permissions checked per call (the token's `roles`, or an Exchange RBAC grant
  per mailbox); group members without a user-read permission come back as ids only;
- `/users/{key}` by id or userPrincipalName only (mail and aliases go through `$filter`),
  while mailbox endpoints answer to any SMTP address of the user, as Exchange does;
- four concurrent requests per mailbox (the fifth gets 429 MailboxConcurrency);
- `calendarView/delta` rounds with `@odata.nextLink`/`@odata.deltaLink` state tokens,
  `@removed` entries, 410 for a delta token it forgot, and none of `$select`, `$filter`,
  `$orderby`, `$top` (or the other OData options the delta function refuses);
- inbox rules need `displayName`, `sequence` and `actions`;
- groups: replication delay on membership, read-only mail-enabled security groups and
  distribution lists, dynamic and on-premises-synced groups whose members Graph cannot
  change, and `autoSubscribeNewMembers`, which Graph serves to a signed-in user only;
- subscriptions no longer than 10,080 minutes whose endpoints must pass the validation
  handshake; notifications posted in batches of several subscriptions with a 3-second
  timeout, a batch not answered 2xx in time being one Graph would send again;
- an answer can be lost after the request was carried out (`lose_answer`), which is how
  a timeout looks to the client.
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import trustme

from tests.fakes.graph_model import ALL_ROLES, Group, Mailbox, User, error
from tests.fakes.graph_routes import route
from tests.fakes.server import LoopbackServer, send_json
from tests.routing.fake_vendor import Request as Recorded

TENANT = "7f2c1e4a-tenant"
CLIENT_ID = "0a1b2c3d-oscbot"
CLIENT_SECRET = "graph-s3cret"
# Graph publishes notifications with a 3-second timeout and resends a batch that got no
# 2xx in time for up to 4 hours ("Receive change notifications through webhooks").
NOTIFY_TIMEOUT = 3.0

__all__ = ["CLIENT_ID", "TENANT", "Delivery", "FakeGraph", "Group", "graph_client"]


@dataclass
class Delivery:
    """One notification POST Graph made: to where, which items, and how it was answered."""

    url: str
    items: list[dict[str, Any]]
    status: int | None  # None: no answer within the 3-second timeout
    seconds: float

    @property
    def resent(self) -> bool:
        """True when Graph would send this batch again (no 2xx within 3 seconds)."""
        return self.status is None or not 200 <= self.status < 300


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


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(
        payload + "=" * (-len(payload) % 4)))
    return claims


class FakeGraph(LoopbackServer):
    """`with FakeGraph() as graph:`; `graph.base_url` and `graph.token_url` for the client."""

    def __init__(self, *, page_size: int = 2, delay: float = 0.0) -> None:
        # msal insists on an https authority, so the fake speaks TLS with a test CA.
        self.ca_file = _ca_file()
        self.mailboxes: dict[str, Mailbox] = {}
        self.directory: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.domains: list[dict[str, Any]] = [
            {"id": "buildercorp.onmicrosoft.com", "isVerified": True, "isDefault": False,
             "isInitial": True, "supportedServices": ["Email", "OfficeCommunicationsOnline"]}]
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.roles: set[str] = set(ALL_ROLES)
        self.rbac: dict[str, set[str]] = {}
        self.requests: list[Recorded] = []
        self.failures: deque[tuple[int, dict[str, str], str]] = deque()
        self.lost: list[tuple[str, str]] = []
        self.deliveries: list[Delivery] = []
        self.page_size = page_size
        self.delay = delay
        self.replication_delay = timedelta(0)
        # Graph answers group subscription settings only for a signed-in user (Known
        # issues, Groups: "group subscription" is delegated-only); True models a tenant
        # that answers the app as well.
        self.app_reads_group_subscription = False
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.throttled = 0
        self.handshakes: list[str] = []
        self._issued: dict[str, dict[str, Any]] = {}
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

    # --- directory and mailboxes ---------------------------------------------------

    def mailbox(self, address: str) -> Mailbox:
        """The mailbox with this address, created (with a directory user) on first use."""
        self.user(address)
        with self._lock:
            key = address.lower()
            if key not in self.mailboxes:
                self.mailboxes[key] = Mailbox(key)
            return self.mailboxes[key]

    def user(self, address: str, *, upn: str | None = None,
             aliases: tuple[str, ...] = ()) -> str:
        """The id of the directory user whose mail is `address` (created on first use, with
        `upn` as its sign-in name, the address by default, and `aliases`)."""
        with self._lock:
            for found in self.directory.values():
                if (found.mail or "").lower() == address.lower():
                    return found.id
            user_id = f"user-{len(self.directory) + 1:04d}"
            self.directory[user_id] = User(user_id, (upn or address).lower(), address.lower(),
                                           tuple(a.lower() for a in aliases))
            return user_id

    def find_user(self, key: str, *, smtp: bool = False) -> User | None:
        """The user `key` names: its id or userPrincipalName, or with `smtp` any of its
        SMTP addresses (as a mailbox endpoint resolves it)."""
        wanted = key.lower()
        for user in self.directory.values():
            if wanted in (user.id.lower(), user.upn) or (smtp and wanted in user.smtp()):
                return user
        return None

    def mailbox_for(self, key: str) -> str | None:
        """The address of the mailbox a `/users/{key}/…` request reaches, if any."""
        if key.lower() in self.mailboxes:
            return key.lower()
        user = self.find_user(key, smtp=True)
        if user is None:
            return None
        for address in sorted(user.smtp() | {user.upn}):
            if address in self.mailboxes:
                return address
        return None

    def domain_list(self) -> list[dict[str, Any]]:
        """The tenant's domains: the ones set here and the domain of every user (a user's
        name is always in one of the tenant's verified domains)."""
        listed = {d["id"].lower(): d for d in self.domains}
        for user in list(self.directory.values()):
            for address in (user.upn, *user.smtp()):
                name = address.rsplit("@", 1)[-1]
                listed.setdefault(name, {"id": name, "isVerified": True, "isDefault": False,
                                         "isInitial": False, "supportedServices": ["Email"]})
        return list(listed.values())

    # --- failure injection and inspection -------------------------------------------

    def fail_next(self, status: int, headers: dict[str, str] | None = None, *,
                  code: str = "", times: int = 1) -> None:
        """Answer the next `times` Graph API calls with `status`."""
        self.failures.extend([(status, headers or {}, code)] * times)

    def lose_answer(self, method: str, path_end: str, *, times: int = 1) -> None:
        """Carry out the next `times` `method` requests whose path ends with `path_end`, then
        drop the connection without answering (what a timed-out request looks like)."""
        self.lost.extend([(method.upper(), path_end)] * times)

    def api(self, method: str | None = None) -> list[Recorded]:
        """Requests to Graph itself (not the token endpoint), optionally of one method."""
        return [r for r in self.requests if r.path.startswith("/v1.0/")
                and (method is None or r.method == method)]

    def writes(self) -> list[Recorded]:
        """Graph requests that change something."""
        return [r for r in self.api() if r.method in ("POST", "PATCH", "DELETE")]

    # --- notifications --------------------------------------------------------------

    def change(self, subscription_id: str, *, client_state: str | None = None,
               change_type: str = "updated", event_id: str = "AAMkAD-changed"
               ) -> dict[str, Any]:
        """One change notification item for a subscription, as Graph writes it."""
        sub = self.subscriptions[subscription_id]
        return {"subscriptionId": subscription_id, "changeType": change_type,
                "clientState": sub["clientState"] if client_state is None else client_state,
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "resource": f"Users/{sub['_user']}/Events/{event_id}", "tenantId": TENANT,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event",
                                 "@odata.id": f"Users/{sub['_user']}/Events/{event_id}",
                                 "id": event_id}}

    def notify_batch(self, items: list[dict[str, Any]], *, url: str | None = None
                     ) -> Delivery:
        """POST several notification items in one request, as Graph batches them for
        subscriptions sharing a notification URL, with Graph's 3-second timeout."""
        target = url or str(self.subscriptions[items[0]["subscriptionId"]]["notificationUrl"])
        started = time.monotonic()
        try:
            status: int | None = httpx.post(target, json={"value": items},
                                            timeout=NOTIFY_TIMEOUT).status_code
        except httpx.TimeoutException:
            status = None
        delivery = Delivery(target, items, status, time.monotonic() - started)
        self.deliveries.append(delivery)
        return delivery

    def notify(self, subscription_id: str, *, client_state: str | None = None,
               change_type: str = "updated", event_id: str = "AAMkAD-changed") -> int:
        """POST one change notification as Graph would; the endpoint's status (0: none)."""
        item = self.change(subscription_id, client_state=client_state,
                           change_type=change_type, event_id=event_id)
        return self.notify_batch([item]).status or 0

    def lifecycle(self, subscription_id: str, event: str) -> int:
        """POST a lifecycle notification (reauthorizationRequired, missed, subscriptionRemoved)."""
        sub = self.subscriptions[subscription_id]
        if event == "subscriptionRemoved":
            self.subscriptions.pop(subscription_id)
        item = {"subscriptionId": subscription_id, "lifecycleEvent": event,
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "clientState": sub["clientState"], "tenantId": TENANT}
        return self.notify_batch([item], url=sub["lifecycleNotificationUrl"]).status or 0

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
        self._issued[token] = claims
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": token}

    def issue(self, *, audience: str) -> str:
        """A token the token endpoint would issue for another resource (`audience`)."""
        status, answer = self._token({"grant_type": ["client_credentials"],
                                      "client_id": [CLIENT_ID],
                                      "client_secret": [CLIENT_SECRET],
                                      "scope": [f"{audience}/.default"]})
        assert status == 200
        return str(answer["access_token"])

    # --- Graph ------------------------------------------------------------------

    def _allowed(self, token: str, needed: frozenset[str], mailbox: str | None) -> bool:
        roles = set(self._issued[token]["roles"]) if token in self._issued else set(
            _claims(token).get("roles", []))
        granted = roles | (self.rbac.get(mailbox, set()) if mailbox else set())
        return bool(granted & needed)

    def _audience_ok(self, token: str) -> bool:
        # Graph accepts a token only for its own resource (national clouds included).
        return str(self._issued[token].get("aud", "")).rstrip("/") == self.base

    def _route(self, method: str, parts: list[str], query: dict[str, list[str]],
               body: Any, headers: dict[str, str], token: str
               ) -> tuple[int, Any, dict[str, str]]:
        return route(self, method, parts, query, body, headers, token)

    def _take_lost(self, method: str, path: str) -> bool:
        with self._lock:
            for index, (lost_method, path_end) in enumerate(self.lost):
                if lost_method == method and path.endswith(path_end):
                    del self.lost[index]
                    return True
        return False

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
                                          "Access token validation failure."))
                    return
                if not fake._audience_ok(token):
                    self._send(401, error("InvalidAuthenticationToken",
                                          "Access token validation failure. Invalid audience."))
                    return
                parts = [unquote(p) for p in path.split("/")[2:]]
                mailbox = (fake.mailbox_for(parts[1]) or parts[1].lower()
                           if len(parts) > 2 and parts[0] == "users" else None)
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
                if fake._take_lost(self.command, path):
                    self.close_connection = True  # carried out; the answer never arrives
                    return
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

