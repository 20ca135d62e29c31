"""Microsoft Graph over plain httpx, with app-only tokens from msal (client credentials).

One client serves the Outlook calendar source and the Exchange routing adapters
(`routing/m365_group.py`, `routing/outlook_rule.py`), so the per-mailbox limit holds
across all of them: Exchange allows four concurrent requests per app and mailbox
and answers the fifth with 429. Throttled answers wait for `Retry-After`; 5xx and
network failures back off with full jitter; anything else becomes a `GraphError`
carrying Graph's error code, for the adapters to put in their own words.

A request that changes something and is not idempotent (a POST that creates a rule or a
subscription) is never sent twice blindly: when its answer is lost (a timeout, a dropped
connection, a 5xx) Graph may have done it, so the error says `maybe_applied` and the
caller looks before it tries again.
"""

from __future__ import annotations

import base64
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from bot.config.settings import Settings
from bot.config.urls import graph_cloud

GRAPH_DEFAULT = "https://graph.microsoft.com/v1.0"
LOGIN_DEFAULT = "https://login.microsoftonline.com"
TOKEN_SUFFIX = "/oauth2/v2.0/token"
PER_MAILBOX = 4
# Failures that prove the request never reached Graph, so even a POST may be sent again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
SAFE_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
# Graph answers syncStateNotFound (or 410 Gone) when a delta token can no longer be used.
RESYNC_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}


class GraphError(Exception):
    """Graph (or its token endpoint) refused or failed a request."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float = 0.0,
                 transient: bool = False, maybe_applied: bool = False) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.transient = transient
        # The answer was lost after the request was sent: Graph may have done it.
        self.maybe_applied = maybe_applied
        super().__init__(f"HTTP {status} {code}: {message}".strip())

    @property
    def needs_resync(self) -> bool:
        """True when a delta link expired and a full sync must start over."""
        return self.status == 410 or self.code.lower() in RESYNC_CODES


@dataclass(frozen=True)
class GraphConfig:
    """Where Graph and its token endpoint are, and the app's credentials."""

    client_id: str
    client_secret: str = field(repr=False)
    tenant_id: str
    base_url: str = GRAPH_DEFAULT
    token_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphConfig | None:
        """The Graph config in the settings, or None when the app is not registered."""
        secret = settings.graph_client_secret
        if not (settings.graph_client_id and secret and settings.graph_tenant_id):
            return None
        return cls(client_id=settings.graph_client_id, client_secret=secret.get_secret_value(),
                   tenant_id=settings.graph_tenant_id,
                   base_url=settings.graph_base_url.rstrip("/"),
                   token_url=settings.graph_token_url or "")

    @property
    def token_endpoint(self) -> str:
        """GRAPH_TOKEN_URL, or the tenant's v2.0 token endpoint in GRAPH_BASE_URL's cloud."""
        cloud = graph_cloud(self.base_url)
        login = cloud[1] if cloud else LOGIN_DEFAULT
        return self.token_url or f"{login}/{self.tenant_id}{TOKEN_SUFFIX}"

    @property
    def authority(self) -> str:
        """The authority msal discovers the token endpoint from (token URL minus its tail)."""
        endpoint = self.token_endpoint.rstrip("/")
        if not endpoint.endswith(TOKEN_SUFFIX):
            raise GraphError(0, "badTokenUrl", f"GRAPH_TOKEN_URL must end in {TOKEN_SUFFIX}")
        return endpoint.removesuffix(TOKEN_SUFFIX)

    @property
    def scope(self) -> str:
        """The app-only scope: every application permission granted to the app."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}/.default"


class TokenSource(Protocol):
    """Where bearer tokens for Graph come from."""

    def token(self) -> str:
        """A valid access token (cached until shortly before it expires)."""
        ...


class MsalTokens:
    """Client-credentials tokens from msal, which caches them until they expire."""

    def __init__(self, config: GraphConfig, *, verify: str | bool = True) -> None:
        self._config = config
        self._verify = verify
        self._app: Any = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """A token for Graph; GraphError(401) with Entra's reason when refused."""
        import msal

        with self._lock:
            if self._app is None:
                # msal discovers the tenant's endpoints when built: do it on first use only.
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._config.client_id, client_credential=self._config.client_secret,
                        authority=self._config.authority, instance_discovery=False,
                        validate_authority=False, http_client=self._session())
                except (ValueError, OSError) as exc:
                    raise GraphError(0, "tokenEndpoint", str(exc).splitlines()[0],
                                     transient=True) from None
            app = self._app
        try:
            result = app.acquire_token_for_client(scopes=[self._config.scope])
        except (ValueError, OSError) as exc:
            raise GraphError(0, "tokenEndpoint", type(exc).__name__, transient=True) from None
        if "access_token" not in result:
            description = str(result.get("error_description", "")).splitlines()
            raise GraphError(401, str(result.get("error", "token refused")),
                             description[0] if description else "")
        return str(result["access_token"])

    def _session(self) -> Any:
        """msal's HTTP session; an explicit CA bundle wins over REQUESTS_CA_BUNDLE."""
        if self._verify is True:
            return None
        import requests

        session = requests.Session()
        session.verify = self._verify
        session.trust_env = False
        return session


def token_roles(token: str) -> set[str]:
    """The application permissions (`roles` claim) a Graph token carries.

    Read only to explain a refusal; Graph itself verifies the token.
    """
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return {str(r) for r in claims.get("roles", [])}
    except (IndexError, ValueError, AttributeError):
        return set()


class GraphClient:
    """Graph requests for one app: token, per-mailbox concurrency, retries, paging."""

    def __init__(self, config: GraphConfig, *, tokens: TokenSource | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, max_tries: int = 5,
                 max_wait: float = 60.0, per_mailbox: int = PER_MAILBOX,
                 verify: str | bool = True) -> None:
        self.config = config
        self.tokens = tokens or MsalTokens(config, verify=verify)
        self._http = httpx.Client(
            transport=transport, timeout=30.0,
            verify=ssl.create_default_context(cafile=verify) if isinstance(verify, str)
            else verify)
        self._sleep = sleep
        self._max_tries = max_tries
        self._max_wait = max_wait
        self._per_mailbox = per_mailbox
        self._gates: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        origin = urlsplit(config.base_url)
        self._origin = (origin.scheme, origin.netloc)

    def roles(self) -> set[str]:
        """The application permissions the app's token carries now."""
        return token_roles(self.tokens.token())

    def get(self, path: str, *, mailbox: str, params: Mapping[str, str] | None = None,
            prefer: tuple[str, ...] = (), headers: Mapping[str, str] | None = None
            ) -> dict[str, Any]:
        """GET one resource or page."""
        return self.request("GET", path, mailbox=mailbox, params=params, prefer=prefer,
                            headers=headers) or {}

    def pages(self, path: str, *, mailbox: str, params: Mapping[str, str] | None = None,
              prefer: tuple[str, ...] = (), headers: Mapping[str, str] | None = None
              ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following `@odata.nextLink` to the last page."""
        page = self.get(path, mailbox=mailbox, params=params, prefer=prefer, headers=headers)
        yield page
        while page.get("@odata.nextLink"):
            page = self.get(str(page["@odata.nextLink"]), mailbox=mailbox, prefer=prefer,
                            headers=headers)
            yield page

    def request(self, method: str, path: str, *, mailbox: str,
                params: Mapping[str, str] | None = None, body: Any = None,
                prefer: tuple[str, ...] = (), headers: Mapping[str, str] | None = None,
                idempotent: bool | None = None) -> dict[str, Any] | None:
        """One request with retries; the JSON answer (None for 204). GraphError otherwise.

        `idempotent` (default: GET, PUT, PATCH and DELETE are) says whether sending the
        request twice is harmless; one that is not is retried only when Graph surely did
        not act on it (throttled, or never reached), else it fails with `maybe_applied`.
        """
        url = self._url(path)
        safe = method.upper() in SAFE_METHODS if idempotent is None else idempotent
        with self._gate(mailbox):
            for attempt in range(self._max_tries):
                try:
                    response = self._send(method, url, params=params, body=body,
                                          prefer=prefer, headers=headers)
                except GraphError as exc:
                    error = exc
                except httpx.HTTPError as exc:
                    error = GraphError(0, "network", type(exc).__name__, transient=True,
                                       maybe_applied=not isinstance(exc, NOT_SENT))
                else:
                    if response.status_code < 300:
                        return response.json() if response.content else None
                    error = _error_of(response)
                if not error.transient or attempt == self._max_tries - 1:
                    raise error
                if error.retry_after > self._max_wait:
                    raise error
                if error.maybe_applied and not safe:
                    raise error  # the caller looks before it tries again
                # Retry-After is Graph's instruction; otherwise full jitter spreads retries.
                self._sleep(error.retry_after or random.uniform(0, min(30.0, 2.0 ** attempt)))
        raise GraphError(0, "gaveUp", url, transient=True)

    def _send(self, method: str, url: str, *, params: Mapping[str, str] | None, body: Any,
              prefer: tuple[str, ...], headers: Mapping[str, str] | None) -> httpx.Response:
        sent = {**(headers or {}), "Authorization": f"Bearer {self.tokens.token()}",
                "Accept": "application/json"}
        if prefer:
            sent["Prefer"] = ", ".join(prefer)
        return self._http.request(method, url, params=params, json=body, headers=sent)

    def _url(self, path: str) -> str:
        if "://" not in path:
            return f"{self.config.base_url}/{path.lstrip('/')}"
        parts = urlsplit(path)
        # Paging and delta links are absolute; never send the token anywhere else.
        if (parts.scheme, parts.netloc) != self._origin:
            raise GraphError(0, "foreignLink", f"refusing to follow a link to {parts.netloc}")
        return path

    def _gate(self, mailbox: str) -> threading.BoundedSemaphore:
        with self._lock:
            gate = self._gates.get(mailbox.lower())
            if gate is None:
                gate = self._gates[mailbox.lower()] = threading.BoundedSemaphore(
                    self._per_mailbox)
            return gate

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _error_of(response: httpx.Response) -> GraphError:
    code, message = "", ""
    try:
        error = response.json().get("error", {})
        if isinstance(error, dict):
            code, message = str(error.get("code", "")), str(error.get("message", ""))
    except ValueError:
        pass
    status = response.status_code
    header = response.headers.get("Retry-After", "")
    retry_after = float(header) if header.replace(".", "", 1).isdigit() else 0.0
    transient = status == 429 or status >= 500
    if status == 429 and not retry_after:
        retry_after = 1.0
    # A 5xx may come after Graph acted (a gateway timed out waiting); a 429 never does.
    return GraphError(status, code, message.splitlines()[0] if message else "",
                      retry_after=retry_after, transient=transient,
                      maybe_applied=status >= 500)


def graph_client_from_env(env: Mapping[str, str]) -> GraphClient | None:
    """The app's Graph client when GRAPH_CLIENT_ID/SECRET/TENANT_ID are set, else None."""
    config = GraphConfig.from_settings(Settings.from_env(env))
    return GraphClient(config) if config is not None else None
