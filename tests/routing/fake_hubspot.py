"""A local fake of HubSpot's CRM v3 owners, search, read, update and batch endpoints,
strict where HubSpot is (https://developers.hubspot.com/docs/api-reference/search/guide,
https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines):

- the private app token and its scopes (tasks use the contact scopes);
- search: at most 200 results a page, never past the 10,000th result of a query, at most
  5 filter groups of 6 filters (18 in all) and one sort, five searches a second per
  account (429 naming the SECONDLY policy, without Retry-After);
- every request: 100 per rolling ten seconds (429 TEN_SECONDLY_ROLLING with HubSpot's
  rate-limit headers);
- writes naming a property the object does not have are refused (PROPERTY_DOESNT_EXIST);
- batch read and update take at most 100 inputs; records that do not exist come back as
  OBJECT_NOT_FOUND errors of a 207 answer.

Time is the fake's `clock` (a VirtualClock in tests), so rate windows never wait.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.routing.fake_vendor import FakeVendor, Reply, Request

STAMP = "2026-11-01T00:00:00.000Z"
PROPERTIES = {
    "contacts": {"hubspot_owner_id", "createdate", "hs_object_id", "email", "firstname",
                 "lastname", "lastmodifieddate", "lifecyclestage"},
    "tasks": {"hubspot_owner_id", "hs_task_status", "hs_timestamp", "hs_object_id",
              "hs_task_subject", "hs_createdate", "hs_lastmodifieddate"},
    "deals": {"hubspot_owner_id", "createdate", "hs_object_id", "dealname", "dealstage",
              "hs_is_closed"},
}
# Read and write scopes per object type; tasks are read and written with the contact
# scopes (https://developers.hubspot.com/docs/api-reference/latest/crm/activities/tasks/guide).
SCOPES = {"contacts": ("crm.objects.contacts.read", "crm.objects.contacts.write"),
          "tasks": ("crm.objects.contacts.read", "crm.objects.contacts.write"),
          "deals": ("crm.objects.deals.read", "crm.objects.deals.write")}
ALL_SCOPES = frozenset({"crm.objects.owners.read", *itertools.chain(*SCOPES.values())})
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b, "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b, "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}


def _value(raw: Any) -> Any:
    text = "" if raw is None else str(raw)
    return int(text) if text.isdigit() else text


def _matches(record: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    for f in filters:
        have, want = _value(record["properties"].get(f["propertyName"])), _value(f["value"])
        if type(have) is not type(want):
            have, want = str(have), str(want)
        if not OPERATORS[f["operator"]](have, want):
            return False
    return True


def error(status: int, category: str, message: str, **extra: Any) -> Reply:
    """An error in HubSpot's shape."""
    return Reply(status, {"status": "error", "message": message,
                          "correlationId": str(uuid.uuid4()), "category": category, **extra})


class FakeHubSpot(FakeVendor):
    """Owners by email; objects by type and id."""

    def __init__(self, *, token: str, owners: dict[str, str],
                 scopes: frozenset[str] = ALL_SCOPES,
                 clock: Callable[[], float] = time.monotonic,
                 searches_per_second: int = 5, requests_per_ten_seconds: int = 100) -> None:
        self.token = token
        self.owners = owners
        self.scopes = set(scopes)
        self.objects: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in PROPERTIES}
        self.clock = clock
        self.searches_per_second = searches_per_second
        self.requests_per_ten_seconds = requests_per_ten_seconds
        self.refused: list[tuple[int, str]] = []  # (status, category) of every refusal
        self._searches: deque[float] = deque()
        self._calls: deque[float] = deque()
        super().__init__()

    def put(self, object_type: str, record_id: str, **properties: str) -> None:
        """Store an object with these properties (ids are numeric, as HubSpot's are)."""
        assert record_id.isdigit(), "HubSpot record ids are numeric"
        unknown = set(properties) - PROPERTIES[object_type]
        assert not unknown, f"{object_type} has no {unknown}"
        self.objects[object_type][record_id] = {
            "id": record_id, "properties": {**properties, "hs_object_id": record_id},
            "createdAt": STAMP, "updatedAt": STAMP, "archived": False}

    def owner_of(self, object_type: str, record_id: str) -> str:
        """The object's hubspot_owner_id now."""
        return str(self.objects[object_type][record_id]["properties"]["hubspot_owner_id"])

    def searches(self) -> list[Request]:
        """Every search request."""
        return [r for r in self.requests if r.path.endswith("/search")]

    def answer(self, request: Request) -> Reply:
        """HubSpot's answer, or its refusal."""
        reply = self._answer(request)
        if reply.status >= 400 and isinstance(reply.body, dict):
            self.refused.append((reply.status, str(reply.body.get("category", ""))))
        return reply

    def _answer(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return error(401, "INVALID_AUTHENTICATION", "Authentication credentials not "
                         "found. This API supports OAuth 2.0 authentication and you can find "
                         "more details at https://developers.hubspot.com/docs/methods/auth/"
                         "oauth-overview")
        limited = self._ten_secondly()
        if limited is not None:
            return limited
        parts = [p for p in request.path.split("/") if p]
        if parts[:3] == ["crm", "v3", "owners"] and request.method == "GET":
            return self._scoped("crm.objects.owners.read") or self._owners(request)
        if parts[:3] != ["crm", "v3", "objects"] or len(parts) < 5:
            return error(404, "OBJECT_NOT_FOUND", "Not found")
        object_type = parts[3]
        if object_type not in self.objects:
            return error(400, "VALIDATION_ERROR", f"Unable to infer object type from: "
                         f"{object_type}")
        read, write = SCOPES[object_type]
        tail = parts[4:]
        if tail == ["search"] and request.method == "POST":
            return self._scoped(read) or self._search(object_type, request.body)
        if tail == ["batch", "read"] and request.method == "POST":
            return self._scoped(read) or self._batch_read(object_type, request.body)
        if tail == ["batch", "update"] and request.method == "POST":
            return self._scoped(write) or self._batch_update(object_type, request.body)
        if len(tail) == 1 and request.method in ("GET", "PATCH"):
            needed = read if request.method == "GET" else write
            return self._scoped(needed) or self._one(object_type, tail[0], request)
        return error(405, "VALIDATION_ERROR", "Method not allowed")

    def _scoped(self, scope: str) -> Reply | None:
        if scope in self.scopes:
            return None
        return error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes "
                     "to make this call. Read more about required scopes here: "
                     "https://developers.hubspot.com/scopes.",
                     errors=[{"message": "One or more of the following scopes are required.",
                              "context": {"requiredGranularScopes": [scope]}}])

    def _ten_secondly(self) -> Reply | None:
        now = self.clock()
        while self._calls and now - self._calls[0] >= 10.0:
            self._calls.popleft()
        if len(self._calls) >= self.requests_per_ten_seconds:
            reply = error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling "
                          "limit.", errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING")
            return Reply(429, reply.body, {
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Max": str(self.requests_per_ten_seconds),
                "X-HubSpot-RateLimit-Remaining": "0"})
        self._calls.append(now)
        return None

    def _owners(self, request: Request) -> Reply:
        email = request.query.get("email", [""])[0]
        return Reply(200, {"results": [
            {"id": owner_id, "email": address, "firstName": "", "lastName": "",
             "userId": 1, "createdAt": STAMP, "updatedAt": STAMP, "archived": False}
            for address, owner_id in self.owners.items() if address == email]})

    def _search(self, object_type: str, body: dict[str, Any]) -> Reply:
        now = self.clock()
        while self._searches and now - self._searches[0] >= 1.0:
            self._searches.popleft()
        if len(self._searches) >= self.searches_per_second:
            return error(429, "RATE_LIMITS", "You have reached your secondly limit.",
                         errorType="RATE_LIMIT", policyName="SECONDLY")
        self._searches.append(now)
        limit = int(body.get("limit", 10))
        after = int(body.get("after") or 0)
        groups = body.get("filterGroups") or []
        if limit > 200:
            return error(400, "VALIDATION_ERROR", f"limit {limit} is above the maximum 200")
        if after + limit > 10_000:
            return error(400, "VALIDATION_ERROR", "The search endpoints are limited to "
                         "10,000 total results for any given query.")
        if len(groups) > 5 or any(len(g.get("filters", [])) > 6 for g in groups) or sum(
                len(g.get("filters", [])) for g in groups) > 18:
            return error(400, "VALIDATION_ERROR", "Too many filters: at most 5 filterGroups "
                         "of 6 filters, 18 in all")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return error(400, "VALIDATION_ERROR", "Only one sort is allowed")
        # The record id first: it rules most records out at once when a search pages by id.
        ordered = [sorted(g.get("filters", []), key=lambda f: f["propertyName"] != "hs_object_id")
                   for g in groups]
        hits = [r for r in self.objects[object_type].values()
                if not ordered or any(_matches(r, filters) for filters in ordered)]
        if sorts:
            key = sorts[0]["propertyName"]
            hits.sort(key=lambda r: _value(r["properties"].get(key)),
                      reverse=sorts[0].get("direction") == "DESCENDING")
        page = hits[after:after + limit]
        answer: dict[str, Any] = {"total": len(hits), "results": [
            self._shown(r, body.get("properties")) for r in page]}
        if after + len(page) < len(hits):
            answer["paging"] = {"next": {"after": str(after + len(page))}}
        return Reply(200, answer)

    def _shown(self, record: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
        # Only the properties asked for (and the id), as HubSpot answers.
        properties = {k: v for k, v in record["properties"].items()
                      if k in (wanted or ()) or k == "hs_object_id"}
        return {**record, "properties": properties}

    def _unknown(self, object_type: str, properties: dict[str, Any]) -> Reply | None:
        unknown = sorted(set(properties) - PROPERTIES[object_type])
        if not unknown:
            return None
        details = [{"isValid": False, "message": f'Property "{name}" does not exist',
                    "error": "PROPERTY_DOESNT_EXIST", "name": name} for name in unknown]
        return error(400, "VALIDATION_ERROR",
                     f"Property values were not valid: {json.dumps(details)}")

    def _one(self, object_type: str, record_id: str, request: Request) -> Reply:
        record = self.objects[object_type].get(record_id)
        if record is None:
            return error(404, "OBJECT_NOT_FOUND", "resource not found")
        if request.method == "PATCH":
            refused = self._unknown(object_type, request.body["properties"])
            if refused is not None:
                return refused
            record["properties"].update(request.body["properties"])
            return Reply(200, record)
        wanted = request.query.get("properties", [""])[0].split(",")
        return Reply(200, self._shown(record, wanted))

    def _batch_read(self, object_type: str, body: dict[str, Any]) -> Reply:
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return error(400, "VALIDATION_ERROR", f"Too many inputs: {len(inputs)} (max 100)")
        store = self.objects[object_type]
        found = [self._shown(store[i["id"]], body.get("properties"))
                 for i in inputs if i["id"] in store]
        missing = [i["id"] for i in inputs if i["id"] not in store]
        return self._batch_answer(object_type, found, missing, "get")

    def _batch_update(self, object_type: str, body: dict[str, Any]) -> Reply:
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return error(400, "VALIDATION_ERROR", f"Too many inputs: {len(inputs)} (max 100)")
        for item in inputs:
            refused = self._unknown(object_type, item["properties"])
            if refused is not None:
                return refused
        store = self.objects[object_type]
        written = []
        for item in inputs:
            if item["id"] in store:
                store[item["id"]]["properties"].update(item["properties"])
                written.append(store[item["id"]])
        missing = [i["id"] for i in inputs if i["id"] not in store]
        return self._batch_answer(object_type, written, missing, "update")

    @staticmethod
    def _batch_answer(object_type: str, results: list[dict[str, Any]], missing: list[str],
                      verb: str) -> Reply:
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                  "startedAt": STAMP, "completedAt": STAMP}
        if not missing:
            return Reply(200, answer)
        answer["numErrors"] = 1
        answer["errors"] = [{
            "status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not {verb} some {object_type.upper().rstrip('S')} objects, "
                       "they may be deleted or not exist. Check that ids are valid.",
            "context": {"ids": missing}}]
        return Reply(207, answer)
