"""Salesforce: hand leads and tasks over by `OwnerId`, through simple-salesforce.

Every owner change is sent with `Sforce-Auto-Assign: FALSE`, so lead assignment
rules do not immediately give the record to someone else. Users come from
`routing_ids.salesforce_user_id` or an active User with the person's email. Leads
are open records of `lead_object` (Lead unless set); tasks are open Tasks by
`ActivityDate` (their due date).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_soql

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, RecordKind, RoutingAdapter
from routing.crm_users import UserDirectory
from routing.http_errors import error_for, network, none_if_not_found
from routing.setup import RoutingSetup, crm_routing

T = TypeVar("T")
VENDOR = "Salesforce"
API_VERSION = "59.0"
NO_AUTO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}
# The field that says a record is finished, per object: converted leads, closed deals.
FINISHED_FIELD = {"Lead": "IsConverted", "Opportunity": "IsClosed", "Task": "IsClosed"}


class _RetryAfter:
    """Remembers the last response's Retry-After: simple-salesforce's errors drop headers."""

    value = ""

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.value = response.headers.get("Retry-After", "")


class SalesforceCrm:
    """CrmClient over the Salesforce REST API."""

    name = "salesforce"
    manual_steps: tuple[str, ...] = ()

    def __init__(self, *, instance_url: str, access_token: str = "", username: str = "",
                 password: str = "", security_token: str = "", lead_object: str = "Lead",
                 session: requests.Session | None = None) -> None:
        self._retry_after = _RetryAfter()
        http = session or requests.Session()
        http.hooks["response"].append(self._retry_after)
        credentials: dict[str, Any] = (
            {"instance_url": instance_url, "session_id": access_token} if access_token else
            {"username": username, "password": password, "security_token": security_token})
        self._credentials = credentials
        self._http = http
        self._sf: Salesforce | None = None
        self._lead_object = lead_object
        self._users = UserDirectory(vendor=VENDOR, routing_key="salesforce_user_id",
                                    lookup=self._user_by_email)

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
        self._call(lambda: self._object(record.kind).update(
            record.id, {"OwnerId": owner}, headers=NO_AUTO_ASSIGN),
            what=f"reassigning {record.kind.value} {record.id}")
        return CrmRecord(record.kind, record.id, owner, record.open)

    def _client(self) -> Salesforce:
        # Logging in with a password is a network call: done on first use, not at startup.
        if self._sf is None:
            self._sf = self._call(lambda: Salesforce(
                **self._credentials, session=self._http, version=API_VERSION),
                what="signing in")
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
        try:
            return request()
        except SalesforceError as exc:
            raise self._error(exc, what) from None
        except requests.RequestException as exc:
            raise network(exc, vendor=VENDOR, what=what, manual_step="") from None

    def _error(self, exc: SalesforceError, what: str) -> RoutingError:
        status = int(exc.status)
        # Salesforce reports an exhausted daily API allowance as 403 REQUEST_LIMIT_EXCEEDED.
        if status == 403 and "REQUEST_LIMIT_EXCEEDED" in str(exc.content):
            status = 429
        return error_for(status, vendor=VENDOR, what=what, manual_step="",
                         retry_after=self._retry_after.value)


def build(setup: RoutingSetup) -> RoutingAdapter | None:
    """Salesforce's lead channel, with an access token and instance URL or a username,
    password and security token."""
    env = setup.env
    if not (env.get("SALESFORCE_ACCESS_TOKEN") or env.get("SALESFORCE_PASSWORD")):
        return None
    return crm_routing(setup, SalesforceCrm(
        instance_url=env.get("SALESFORCE_INSTANCE_URL", ""),
        access_token=env.get("SALESFORCE_ACCESS_TOKEN", ""),
        username=env.get("SALESFORCE_USERNAME", ""),
        password=env.get("SALESFORCE_PASSWORD", ""),
        security_token=env.get("SALESFORCE_SECURITY_TOKEN", ""),
        lead_object=setup.settings.get("lead_object", "Lead")))
