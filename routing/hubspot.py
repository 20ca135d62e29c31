"""HubSpot: hand leads and tasks over by `hubspot_owner_id`, through hubspot-api-client.

Owners come from the owners API by email (or `routing_ids.hubspot_owner_id`). Leads
are the records of `lead_object` (contacts unless set otherwise) found with the CRM
search API; tasks are open task objects by `hs_timestamp` (their due date). Records
move 100 at a time through the batch endpoints. A private app token with the scopes
in docs/configuration.md is enough.

HubSpot's search has limits a long-tenured OSC reaches
(https://developers.hubspot.com/docs/api-reference/search/guide#limitations): at most
200 results a page, never past the 10,000th result of one query (HTTP 400), and about
five searches a second per account. So a search never pages with `after`: each page is
a new query for the records after the last id seen (sorted by `hs_object_id`), which no
cap reaches, and searches are paced below the per-second limit.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from hubspot import HubSpot
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
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
RECORD_ID = "hs_object_id"
PAGE = 200  # the search API's largest page
BATCH = 100  # the batch endpoints' largest input
SEARCHES_PER_SECOND = 4  # HubSpot allows five per account; leave room for other apps
TIMEOUT = 30.0
# A wait HubSpot asks for that is short enough to sit out inside one hand-over; a longer
# one (the daily limit) fails the attempt as transient, for the engine to retry later.
MAX_INLINE_WAIT = 11.0
MAX_INLINE_RETRIES = 3
# HubSpot sends no Retry-After: its 429 body names the limit that was hit
# (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines).
POLICY_WAIT = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0, "DAILY": 3600.0}


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _body(exc: ObjectsApiException | OwnersApiException) -> dict[str, Any]:
    try:
        answer = json.loads(exc.body or b"{}")
    except (TypeError, ValueError):
        return {}
    return answer if isinstance(answer, dict) else {}


def rate_limit_wait(headers: Mapping[str, str], body: Mapping[str, Any]) -> float:
    """Seconds to wait after HubSpot's 429: from its rate-limit headers or the policy its
    body names (HubSpot documents no Retry-After), else one ten-second window."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("retry-after", "").replace(".", "", 1).isdigit():
        return float(lowered["retry-after"])
    policy = str(body.get("policyName", "")).upper()
    if policy in POLICY_WAIT:
        if policy == "TEN_SECONDLY_ROLLING":
            interval = lowered.get("x-hubspot-ratelimit-interval-milliseconds", "")
            if interval.isdigit():
                return int(interval) / 1000
        return POLICY_WAIT[policy]
    if lowered.get("x-hubspot-ratelimit-secondly-remaining") == "0":
        return 1.0
    interval = lowered.get("x-hubspot-ratelimit-interval-milliseconds", "")
    return int(interval) / 1000 if interval.isdigit() else POLICY_WAIT["TEN_SECONDLY_ROLLING"]


class Refused(RoutingError):
    """HubSpot answered 400 to a request as a whole."""


class SearchPacer:
    """At most `per_second` searches in any one-second window, waiting when needed."""

    def __init__(self, *, per_second: int, clock: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self._per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()
        # Jobs may search from several threads through one client: one window for all.
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until one more search fits in the window, and count it."""
        with self._lock:
            now = self._clock()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self._per_second:
                self._sleep(1.0 - (now - self._recent[0]))
                now = self._clock()
                self._recent.popleft()
            self._recent.append(now)


class HubSpotCrm:
    """CrmClient over HubSpot's CRM v3 APIs, with the batch endpoints for many records."""

    name = "hubspot"
    manual_steps: tuple[str, ...] = ()
    batch_size = BATCH

    def __init__(self, *, access_token: str, lead_object: str = "contacts",
                 host: str | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 searches_per_second: int = SEARCHES_PER_SECOND) -> None:
        # Retries are ours: HubSpot's own answers say how long to wait.
        options: dict[str, Any] = {"access_token": access_token,
                                   "retry": Retry(total=0, raise_on_status=False)}
        if host:
            options["host"] = host
        self._client = HubSpot(**options)
        self._lead_object = lead_object
        self._sleep = sleep
        self._pacer = SearchPacer(per_second=searches_per_second, clock=clock, sleep=sleep)
        self._users = UserDirectory(vendor=VENDOR, routing_key="hubspot_owner_id",
                                    lookup=self._owner_by_email)

    def user_id(self, person: PersonConfig) -> str:
        """`routing_ids.hubspot_owner_id`, else the active owner with the person's email."""
        return self._users.user_id(person)

    def _owner_by_email(self, person: PersonConfig) -> str | None:
        page = self._json(partial(self._client.crm.owners.owners_api.get_page,
                                  email=person.email, archived=False),
                          what=f"looking up {person.name}'s owner id")
        results = page.get("results") or []
        return str(results[0]["id"]) if results else None

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
        found = none_if_not_found(lambda: self._json(partial(
            self._client.crm.objects.basic_api.get_by_id, self._object(kind), record_id,
            properties=self._properties(kind)), what=f"reading {kind.value} {record_id}"))
        return None if found is None else self._record(kind, found)

    def fetch_many(self, kind: RecordKind, ids: Sequence[str]) -> dict[str, CrmRecord]:
        """The records that still exist, by id: one batch read per 100."""
        found: dict[str, CrmRecord] = {}
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            request = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i) for i in chunk],
                properties=self._properties(kind), properties_with_history=[])
            answer = self._json(partial(
                self._client.crm.objects.batch_api.read, self._object(kind), request,
                archived=False), what=f"reading {len(chunk)} {self._object(kind)}")
            # A deleted record comes back as an OBJECT_NOT_FOUND error of a 207 answer.
            self._refuse_errors(answer, what=f"reading {self._object(kind)}")
            for result in answer.get("results") or []:
                found[str(result["id"])] = self._record(kind, result)
        return found

    def handed_owner(self, record: CrmRecord, *, from_id: str, to_id: str) -> str:
        """One owner per record: the new owner id."""
        return to_id

    def set_owner(self, record: CrmRecord, *, owner: str) -> CrmRecord:
        """PATCH the record's `hubspot_owner_id`."""
        updated = self._json(partial(
            self._client.crm.objects.basic_api.update, self._object(record.kind), record.id,
            SimplePublicObjectInput(properties={OWNER: owner})),
            what=f"reassigning {record.kind.value} {record.id}")
        return self._record(record.kind, updated)

    def set_owners(self, kind: RecordKind, owners: Mapping[str, str]) -> dict[str, CrmRecord]:
        """Write owners 100 records per call; the records written, by id."""
        written: dict[str, CrmRecord] = {}
        items = list(owners.items())
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            request = BatchInputSimplePublicObjectBatchInput(inputs=[
                SimplePublicObjectBatchInput(id=i, properties={OWNER: owner})
                for i, owner in chunk])
            try:
                answer = self._json(partial(
                    self._client.crm.objects.batch_api.update, self._object(kind), request),
                    what=f"reassigning {len(chunk)} {self._object(kind)}")
            except Refused:
                # One record HubSpot no longer has can fail a whole batch: write them one
                # by one so the rest move and only that one is left out.
                written |= self._one_by_one(kind, chunk)
                continue
            self._refuse_errors(answer, what=f"reassigning {self._object(kind)}")
            for result in answer.get("results") or []:
                written[str(result["id"])] = self._record(kind, result)
        return written

    def _one_by_one(self, kind: RecordKind, chunk: list[tuple[str, str]]
                    ) -> dict[str, CrmRecord]:
        written = {}
        for record_id, owner in chunk:
            try:
                written[record_id] = self.set_owner(CrmRecord(kind, record_id, ""), owner=owner)
            except RoutingError as exc:
                if not exc.not_found:
                    raise
        return written

    def _search(self, object_type: str, kind: RecordKind,
                filters: list[Filter]) -> list[CrmRecord]:
        found: list[CrmRecord] = []
        last: str | None = None
        while True:
            after_last = [Filter(property_name=RECORD_ID, operator="GT", value=last)
                          ] if last else []
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=filters + after_last)],
                sorts=[{"propertyName": RECORD_ID, "direction": "ASCENDING"}],
                properties=self._properties(kind), limit=PAGE)
            self._pacer.wait()
            page = self._json(partial(self._client.crm.objects.search_api.do_search,
                                      object_type, public_object_search_request=request),
                              what=f"searching {object_type}")
            results = page.get("results") or []
            found.extend(self._record(kind, result) for result in results)
            if len(results) < PAGE:
                return found
            last = str(results[-1]["id"])

    def _object(self, kind: RecordKind) -> str:
        return self._lead_object if kind is RecordKind.LEAD else "tasks"

    def _properties(self, kind: RecordKind) -> list[str]:
        return [OWNER, "hs_task_status"] if kind is RecordKind.TASK else [OWNER]

    @staticmethod
    def _record(kind: RecordKind, result: dict[str, Any]) -> CrmRecord:
        properties = result.get("properties") or {}
        status = properties.get("hs_task_status")
        return CrmRecord(kind, str(result["id"]), str(properties.get(OWNER) or ""),
                         open=status != "COMPLETED")

    @staticmethod
    def _refuse_errors(answer: dict[str, Any], *, what: str) -> None:
        """Raise for errors of a 207 batch answer other than records that are gone."""
        for error in answer.get("errors") or []:
            category = str(error.get("category") or "")
            if category != "OBJECT_NOT_FOUND":
                raise RoutingError(f"{VENDOR} refused {what} ({category or 'error'})")

    def _json(self, request: Callable[..., Any], *, what: str) -> dict[str, Any]:
        """The JSON answer of an SDK call, read as is: the SDK's models would parse every
        date of ten thousand records for the two properties oscbot reads (and the SDK
        logs every answer it parses, people's addresses included, at DEBUG)."""
        response = self._call(partial(request, _preload_content=False,
                                      _request_timeout=TIMEOUT), what=what)
        try:
            answer = json.loads(response.data or b"{}")
        except ValueError:
            raise error_for(502, vendor=VENDOR, what=what, manual_step="") from None
        finally:
            response.release_conn()
        if not isinstance(answer, dict):
            raise error_for(502, vendor=VENDOR, what=what, manual_step="")
        return answer

    def _call(self, request: Callable[[], T], *, what: str) -> T:
        for attempt in range(MAX_INLINE_RETRIES + 1):
            try:
                return request()
            except (ObjectsApiException, OwnersApiException) as exc:
                error = self._error(exc, what)
                if (not error.transient or error.retry_after > MAX_INLINE_WAIT
                        or attempt == MAX_INLINE_RETRIES or int(exc.status or 0) != 429):
                    raise error from None
                self._sleep(error.retry_after)
            except TransportError as exc:
                raise network(exc, vendor=VENDOR, what=what, manual_step="") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _error(exc: ObjectsApiException | OwnersApiException, what: str) -> RoutingError:
        status = int(exc.status or 0)
        headers = {str(k): str(v) for k, v in dict(exc.headers or {}).items()}
        body = _body(exc)
        category = str(body.get("category", ""))
        if status == 429:
            wait = rate_limit_wait(headers, body)
            return RoutingError(f"{VENDOR} rate limit ({body.get('policyName') or 'unknown'}) "
                                f"while {what}", transient=True, retry_after=wait)
        if category == "MISSING_SCOPES":
            scopes = sorted({scope for detail in body.get("errors") or []
                             for key in ("requiredGranularScopes", "requiredScopes")
                             for scope in (detail.get("context") or {}).get(key, [])})
            return RoutingError(
                f"{VENDOR}'s private app lacks the scope {' or '.join(scopes) or 'needed'} "
                f"for {what}; add it in HubSpot (Settings → Integrations → Private Apps → "
                "Scopes), then paste the new token into HUBSPOT_ACCESS_TOKEN")
        if status == 401:
            return RoutingError(f"{VENDOR} refused the private app token while {what} "
                                f"({category or 'HTTP 401'}); check HUBSPOT_ACCESS_TOKEN")
        if status == 400:
            return Refused(f"{VENDOR} refused {what} ({category or 'HTTP 400'})")
        return error_for(status, vendor=VENDOR, what=what, manual_step="")


def build(setup: RoutingSetup) -> RoutingAdapter | None:
    """HubSpot's lead channel, with HUBSPOT_ACCESS_TOKEN (a private app's token)."""
    if not setup.env.get("HUBSPOT_ACCESS_TOKEN"):
        return None
    return crm_routing(setup, HubSpotCrm(
        access_token=setup.env["HUBSPOT_ACCESS_TOKEN"],
        lead_object=setup.settings.get("lead_object", "contacts"),
        host=setup.settings.get("base_url")))
