"""Salesforce: hand leads and tasks over by `OwnerId`, through simple-salesforce.

Every owner change is sent with `Sforce-Auto-Assign: FALSE`, so lead assignment
rules do not immediately give the record to someone else (without the header the REST
API applies them: https://developer.salesforce.com/docs/platform/api-rest/guide/headers-autoassign.html).
Users come from `routing_ids.salesforce_user_id` or an active User with the person's
email. Leads are open records of `lead_object` (Lead unless set); tasks are open Tasks
by `ActivityDate` (their due date).

oscbot signs in as an integration user of a connected app (or external client app), with
the OAuth 2.0 client credentials flow or the JWT bearer flow, and signs in again when
Salesforce ends the session (`INVALID_SESSION_ID`, after the org's session timeout) in
the middle of a leave. A username and password (SOAP `login()`, refused from API 65.0
and retired in Summer '27) still work, with a warning from `oscbot check`; a pasted
access token cannot be renewed and stops at the end of its session.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
)
from simple_salesforce.format import format_soql
from simple_salesforce.login import SalesforceLogin

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, RecordKind, RoutingAdapter
from routing.crm_users import UserDirectory
from routing.http_errors import error_for, network, none_if_not_found
from routing.setup import RoutingSetup, crm_routing

T = TypeVar("T")
VENDOR = "Salesforce"
# Also the SOAP version of the deprecated password sign-in, which Salesforce refuses
# from 65.0 on: keep it below until that path is gone.
API_VERSION = "59.0"
TIMEOUT = 30.0
NO_AUTO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}
# The field that says a record is finished, per object: converted leads, closed deals.
FINISHED_FIELD = {"Lead": "IsConverted", "Opportunity": "IsClosed", "Task": "IsClosed"}
MY_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.salesforce\.com$")
CONNECTED_APP = ("set SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (client credentials) "
                 "or SALESFORCE_JWT_KEY_FILE and SALESFORCE_USERNAME (JWT bearer), with "
                 "SALESFORCE_DOMAIN; see docs/configuration.md")


class Flow(StrEnum):
    """How oscbot signs in to Salesforce."""

    CLIENT_CREDENTIALS = "client credentials"
    JWT_BEARER = "JWT bearer"
    PASSWORD = "username and password"
    ACCESS_TOKEN = "access token"


def salesforce_domain(value: str) -> str:
    """simple-salesforce's `domain` for a login host: `acme.my` for acme.my.salesforce.com
    (with or without https://), `login` or `test`; ValueError for anything else."""
    host = (urlsplit(value).hostname or "") if "://" in value else value.strip().rstrip("/")
    host = host.lower()
    if host in ("login", "test"):
        return host
    if MY_DOMAIN.match(host):
        return host.removesuffix(".salesforce.com")
    raise ValueError(f"{value!r} is not a Salesforce login host; give your My Domain, like "
                     "acme.my.salesforce.com (Setup → My Domain)")


@dataclass(frozen=True)
class SalesforceAuth:
    """The credentials of one sign-in flow, and signing in with them."""

    flow: Flow
    client_id: str = ""
    client_secret: str = ""
    domain: str = "login"
    username: str = ""
    key_file: str = ""
    password: str = ""
    security_token: str = ""
    access_token: str = ""
    instance_url: str = ""

    @property
    def renewable(self) -> bool:
        """False for a pasted access token: nothing can sign in again when it ends."""
        return self.flow is not Flow.ACCESS_TOKEN

    def sign_in(self, session: requests.Session) -> tuple[str, str]:
        """(access token, instance host) for a new session."""
        if self.flow is Flow.ACCESS_TOKEN:
            parts = urlsplit(self.instance_url)
            return self.access_token, parts.netloc or self.instance_url
        if self.flow is Flow.CLIENT_CREDENTIALS:
            # Salesforce serves this flow only at the org's My Domain.
            answer = SalesforceLogin(consumer_key=self.client_id,
                                     consumer_secret=self.client_secret,
                                     domain=self.domain, session=session)
        elif self.flow is Flow.JWT_BEARER:
            # The assertion's audience is login or test; it may be posted to the My Domain
            # (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm&type=5).
            audience = "test" if self.domain == "test" or ".sandbox." in f".{self.domain}." \
                else "login"
            answer = SalesforceLogin(
                username=self.username, consumer_key=self.client_id,
                privatekey_file=self.key_file, domain=audience, session=session,
                instance_url=None if self.domain in ("login", "test") else self.domain)
        else:
            answer = SalesforceLogin(username=self.username, password=self.password,
                                     security_token=self.security_token, domain=self.domain,
                                     sf_version=API_VERSION, session=session)
        token, instance = answer
        return str(token), str(instance)


def auth_from_env(env: Mapping[str, str]) -> SalesforceAuth | None:
    """The sign-in the environment sets up, the connected app first; None for none."""
    domain = salesforce_domain(env.get("SALESFORCE_DOMAIN") or "login")
    client_id = env.get("SALESFORCE_CLIENT_ID", "")
    if client_id and env.get("SALESFORCE_CLIENT_SECRET"):
        return SalesforceAuth(Flow.CLIENT_CREDENTIALS, client_id=client_id,
                              client_secret=env["SALESFORCE_CLIENT_SECRET"], domain=domain)
    if client_id and env.get("SALESFORCE_JWT_KEY_FILE"):
        return SalesforceAuth(Flow.JWT_BEARER, client_id=client_id, domain=domain,
                              key_file=env["SALESFORCE_JWT_KEY_FILE"],
                              username=env.get("SALESFORCE_USERNAME", ""))
    if env.get("SALESFORCE_PASSWORD"):
        return SalesforceAuth(Flow.PASSWORD, username=env.get("SALESFORCE_USERNAME", ""),
                              password=env["SALESFORCE_PASSWORD"], domain=domain,
                              security_token=env.get("SALESFORCE_SECURITY_TOKEN", ""))
    if env.get("SALESFORCE_ACCESS_TOKEN"):
        return SalesforceAuth(Flow.ACCESS_TOKEN, access_token=env["SALESFORCE_ACCESS_TOKEN"],
                              instance_url=env.get("SALESFORCE_INSTANCE_URL", ""))
    return None


# What Salesforce's token endpoint says, and what an admin does about it.
SIGN_IN_HINTS = {
    "invalid_client": "check SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (the app's "
                      "consumer key and secret)",
    "invalid_client_id": "check SALESFORCE_CLIENT_ID (the app's consumer key)",
    "no client credentials user enabled": "choose a Run As user under the app's client "
                                          "credentials flow",
    "request not supported on this domain": "SALESFORCE_DOMAIN must be your My Domain, like "
                                            "acme.my.salesforce.com",
    "user hasn't approved this consumer": "pre-authorize the integration user: in the app's "
                                          "policies choose \"Admin approved users are "
                                          "pre-authorized\" and add their profile or "
                                          "permission set",
    "audience is invalid": "SALESFORCE_DOMAIN must be login, test or your My Domain",
    "invalid assertion": "check SALESFORCE_JWT_KEY_FILE matches the certificate uploaded to "
                         "the app",
    "authentication failure": "check the username, password and security token",
}


class SalesforceCrm:
    """CrmClient over the Salesforce REST API."""

    name = "salesforce"
    manual_steps: tuple[str, ...] = ()

    def __init__(self, *, auth: SalesforceAuth, lead_object: str = "Lead",
                 session: requests.Session | None = None) -> None:
        self._auth = auth
        self._retry_after = ""
        self._http = session or requests.Session()
        self._http.hooks["response"].append(self._remember_retry_after)
        self._http.mount("https://", _Timeout())
        self._sf: Salesforce | None = None
        self._lead_object = lead_object
        self._users = UserDirectory(vendor=VENDOR, routing_key="salesforce_user_id",
                                    lookup=self._user_by_email)

    def _remember_retry_after(self, response: requests.Response, *args: object,
                              **kwargs: object) -> None:
        # simple-salesforce's errors drop the headers of the answer.
        self._retry_after = response.headers.get("Retry-After", "")

    def user_id(self, person: PersonConfig) -> str:
        """`routing_ids.salesforce_user_id`, else the active User with the person's email."""
        return self._users.user_id(person)

    def _user_by_email(self, person: PersonConfig) -> str | None:
        soql = format_soql("SELECT Id FROM User WHERE Email = {} AND IsActive = true LIMIT 1",
                           person.email)
        rows = self._query(soql, what=f"looking up {person.name}'s user")
        return str(rows[0]["Id"]) if rows else None

    def new_leads(self, *, owner_id: str, since: datetime) -> list[CrmRecord]:
        """Open records of the lead object owned by `owner_id`, created since `since`."""
        finished = FINISHED_FIELD.get(self._lead_object)
        fields = "Id, OwnerId" + (f", {finished}" if finished else "")
        soql = format_soql(
            f"SELECT {fields} FROM {self._lead_object} WHERE OwnerId = {{}} "
            "AND CreatedDate >= {:literal}" + (f" AND {finished} = false" if finished else ""),
            owner_id, since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return [self._record(RecordKind.LEAD, row) for row in
                self._query(soql, what=f"searching {self._lead_object} records")]

    def open_tasks(self, *, owner_id: str, due_before: datetime) -> list[CrmRecord]:
        """Open Tasks owned by `owner_id` due before the day `due_before` falls on."""
        soql = format_soql("SELECT Id, OwnerId, IsClosed FROM Task WHERE OwnerId = {} "
                           "AND IsClosed = false AND ActivityDate < {:literal}", owner_id,
                           due_before.astimezone(UTC).date().isoformat())
        return [self._record(RecordKind.TASK, row)
                for row in self._query(soql, what="searching tasks")]

    def fetch(self, kind: RecordKind, record_id: str) -> CrmRecord | None:
        """The record now; None when Salesforce no longer has it."""
        row = none_if_not_found(lambda: self._call(
            lambda: self._object(kind).get(record_id), what=f"reading {kind.value} {record_id}"))
        return None if row is None else self._record(kind, row)

    def handed_owner(self, record: CrmRecord, *, from_id: str, to_id: str) -> str:
        """One owner per record: the new user id."""
        return to_id

    def set_owner(self, record: CrmRecord, *, owner: str) -> CrmRecord:
        """PATCH `OwnerId` with assignment rules switched off for the call."""
        # A fresh dict each attempt: the header must be on the retry after a new session too.
        self._call(lambda: self._object(record.kind).update(
            record.id, {"OwnerId": owner}, headers=dict(NO_AUTO_ASSIGN)),
            what=f"reassigning {record.kind.value} {record.id}")
        return CrmRecord(record.kind, record.id, owner, record.open)

    def _client(self) -> Salesforce:
        # Signing in is a network call: done on first use (and after a session ends), not
        # at startup.
        if self._sf is None:
            try:
                token, instance = self._auth.sign_in(self._http)
            except SalesforceAuthenticationFailed as exc:
                raise self._sign_in_error(exc) from None
            self._sf = Salesforce(session_id=token, instance=instance,
                                  session=self._http, version=API_VERSION)
        return self._sf

    def _object(self, kind: RecordKind) -> Any:
        return getattr(self._client(), self._lead_object if kind is RecordKind.LEAD else "Task")

    def _query(self, soql: str, *, what: str) -> list[dict[str, Any]]:
        result = self._call(lambda: self._client().query_all(soql), what=what)
        return list(result.get("records", []))

    def _record(self, kind: RecordKind, row: dict[str, Any]) -> CrmRecord:
        finished = FINISHED_FIELD.get("Task" if kind is RecordKind.TASK else self._lead_object)
        return CrmRecord(kind, str(row["Id"]), str(row.get("OwnerId") or ""),
                         open=not (finished and row.get(finished)))

    def _call(self, request: Callable[[], T], *, what: str) -> T:
        for attempt in (1, 2):
            try:
                return request()
            except SalesforceExpiredSession:
                # The org's session timeout (two hours by default) ended the session.
                if attempt == 1 and self._auth.renewable:
                    self._sf = None
                    continue
                raise self._expired(what) from None
            except SalesforceError as exc:
                raise self._error(exc, what) from None
            except requests.RequestException as exc:
                raise network(exc, vendor=VENDOR, what=what, manual_step="") from None
        raise AssertionError("unreachable")

    def _expired(self, what: str) -> RoutingError:
        if self._auth.renewable:
            return RoutingError(f"{VENDOR} ended a new session at once (INVALID_SESSION_ID) "
                                f"while {what}; check the integration user is active and "
                                "has API Enabled")
        return RoutingError(f"{VENDOR} ended the session of SALESFORCE_ACCESS_TOKEN "
                            f"(INVALID_SESSION_ID) while {what}; a pasted token cannot be "
                            f"renewed: {CONNECTED_APP}")

    def _sign_in_error(self, exc: SalesforceAuthenticationFailed) -> RoutingError:
        code = exc.code if isinstance(exc.code, str) else ""
        said = f"{code}: {exc.auth_message}" if code else exc.auth_message or "refused"
        if isinstance(exc.code, int) and exc.code >= 500:
            return RoutingError(f"{VENDOR} could not sign in (HTTP {exc.code})",
                                transient=True)
        lowered = f"{code} {exc.auth_message}".lower()
        hint = next((h for key, h in SIGN_IN_HINTS.items() if key in lowered),
                    "check the app's settings and the integration user")
        return RoutingError(f"{VENDOR} refused to sign in with the {self._auth.flow.value} "
                            f"flow ({said}); {hint}")

    def _error(self, exc: SalesforceError, what: str) -> RoutingError:
        status = int(exc.status)
        # Salesforce reports an exhausted daily API allowance as 403 REQUEST_LIMIT_EXCEEDED.
        if status == 403 and "REQUEST_LIMIT_EXCEEDED" in str(exc.content):
            status = 429
        return error_for(status, vendor=VENDOR, what=what, manual_step="",
                         retry_after=self._retry_after)


class _Timeout(HTTPAdapter):
    """A timeout on every request, sign-ins included (simple-salesforce sets none)."""

    def send(self, request: requests.PreparedRequest, **options: Any  # type: ignore[override]
             ) -> requests.Response:
        if options.get("timeout") is None:
            options["timeout"] = TIMEOUT
        return super().send(request, **options)


def build(setup: RoutingSetup) -> RoutingAdapter | None:
    """Salesforce's lead channel, signed in as the environment says (a connected app's
    client credentials or JWT bearer flow, else the deprecated ways)."""
    try:
        auth = auth_from_env(setup.env)
    except ValueError:
        return None  # `oscbot check` names the bad SALESFORCE_DOMAIN
    if auth is None:
        return None
    return crm_routing(setup, SalesforceCrm(
        auth=auth, lead_object=setup.settings.get("lead_object", "Lead")))
