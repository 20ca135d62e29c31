"""HubSpot: hand leads and tasks over by `hubspot_owner_id`, through hubspot-api-client.

Owners come from the owners API by email (or `routing_ids.hubspot_owner_id`). Leads
are the records of `lead_object` (contacts unless set otherwise) found with the CRM
search API; tasks are open task objects by `hs_timestamp` (their due date). A private
app token with the crm.objects.*.write and crm.objects.owners.read scopes is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from hubspot import HubSpot
from hubspot.crm.objects import (
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
)
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException
from urllib3.exceptions import HTTPError as TransportError
from urllib3.util.retry import Retry

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, RecordKind, RoutingAdapter
from routing.crm_users import UserDirectory
from routing.http_errors import error_for, network, none_if_not_found
from routing.setup import RoutingSetup, crm_routing

T = TypeVar("T")
VENDOR = "HubSpot"
OWNER = "hubspot_owner_id"
PAGE = 100


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


class HubSpotCrm:
    """CrmClient over HubSpot's CRM v3 APIs."""

    name = "hubspot"
    manual_steps: tuple[str, ...] = ()

    def __init__(self, *, access_token: str, lead_object: str = "contacts",
                 host: str | None = None) -> None:
        options: dict[str, Any] = {"access_token": access_token,
                                   "retry": Retry(total=0, raise_on_status=False)}
        if host:
            options["host"] = host
        self._client = HubSpot(**options)
        self._lead_object = lead_object
        self._users = UserDirectory(vendor=VENDOR, routing_key="hubspot_owner_id",
                                    lookup=self._owner_by_email)

    def user_id(self, person: PersonConfig) -> str:
        """`routing_ids.hubspot_owner_id`, else the active owner with the person's email."""
        return self._users.user_id(person)

    def _owner_by_email(self, person: PersonConfig) -> str | None:
        page = self._call(lambda: self._client.crm.owners.owners_api.get_page(
            email=person.email, archived=False), what=f"looking up {person.name}'s owner id")
        return str(page.results[0].id) if page.results else None

    def new_leads(self, *, owner_id: str, since: datetime) -> list[CrmRecord]:
        """Records of the lead object owned by `owner_id`, created since `since`."""
        return self._search(self._lead_object, RecordKind.LEAD, [
            Filter(property_name=OWNER, operator="EQ", value=owner_id),
            Filter(property_name="createdate", operator="GTE", value=_millis(since))])

    def open_tasks(self, *, owner_id: str, due_before: datetime) -> list[CrmRecord]:
        """Tasks not completed, owned by `owner_id`, due before `due_before`."""
        return self._search("tasks", RecordKind.TASK, [
            Filter(property_name=OWNER, operator="EQ", value=owner_id),
            Filter(property_name="hs_task_status", operator="NEQ", value="COMPLETED"),
            Filter(property_name="hs_timestamp", operator="LT", value=_millis(due_before))])

    def fetch(self, kind: RecordKind, record_id: str) -> CrmRecord | None:
        """The record now; None when HubSpot no longer has it."""
        found = none_if_not_found(lambda: self._call(
            lambda: self._client.crm.objects.basic_api.get_by_id(
                self._object(kind), record_id, properties=[OWNER, "hs_task_status"]),
            what=f"reading {kind.value} {record_id}"))
        return None if found is None else self._record(kind, found)

    def handed_owner(self, record: CrmRecord, *, from_id: str, to_id: str) -> str:
        """One owner per record: the new owner id."""
        return to_id

    def set_owner(self, record: CrmRecord, *, owner: str) -> CrmRecord:
        """PATCH the record's `hubspot_owner_id`."""
        updated = self._call(lambda: self._client.crm.objects.basic_api.update(
            self._object(record.kind), record.id,
            SimplePublicObjectInput(properties={OWNER: owner})),
            what=f"reassigning {record.kind.value} {record.id}")
        return self._record(record.kind, updated)

    def _search(self, object_type: str, kind: RecordKind,
                filters: list[Filter]) -> list[CrmRecord]:
        found: list[CrmRecord] = []
        after: str | None = None
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=filters)],
                properties=[OWNER, "hs_task_status"], limit=PAGE, after=after)
            page = self._call(partial(self._client.crm.objects.search_api.do_search,
                                      object_type, public_object_search_request=request),
                              what=f"searching {object_type}")
            found.extend(self._record(kind, result) for result in page.results)
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return found

    def _object(self, kind: RecordKind) -> str:
        return self._lead_object if kind is RecordKind.LEAD else "tasks"

    @staticmethod
    def _record(kind: RecordKind, result: Any) -> CrmRecord:
        properties = result.properties or {}
        status = properties.get("hs_task_status")
        return CrmRecord(kind, str(result.id), str(properties.get(OWNER) or ""),
                         open=status != "COMPLETED")

    def _call(self, request: Callable[[], T], *, what: str) -> T:
        try:
            return request()
        except (ObjectsApiException, OwnersApiException) as exc:
            raise self._error(exc, what) from None
        except TransportError as exc:
            raise network(exc, vendor=VENDOR, what=what, manual_step="") from None

    @staticmethod
    def _error(exc: ObjectsApiException | OwnersApiException, what: str) -> RoutingError:
        headers = exc.headers or {}
        return error_for(int(exc.status or 0), vendor=VENDOR, what=what, manual_step="",
                         retry_after=str(headers.get("Retry-After", "")))


def build(setup: RoutingSetup) -> RoutingAdapter | None:
    """HubSpot's lead channel, with HUBSPOT_ACCESS_TOKEN (a private app's token)."""
    if not setup.env.get("HUBSPOT_ACCESS_TOKEN"):
        return None
    return crm_routing(setup, HubSpotCrm(
        access_token=setup.env["HUBSPOT_ACCESS_TOKEN"],
        lead_object=setup.settings.get("lead_object", "contacts"),
        host=setup.settings.get("base_url")))
