"""Lasso CRM: hand registrants over by their assigned sales reps, through its REST API.

A registrant has a list of assigned sales reps, one of them primary. Handing over
swaps the OSC for the backup in that list (keeping who is primary and every other
rep); putting back writes the exact list read before. Lasso's API has no user
lookup, so each person needs `routing_ids.lasso_user_id`, and it has no task
endpoint, so Lasso tasks stay a step done by hand (the brief says so). API keys are
per project: one key, one project.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.ports.routing import CrmRecord, RecordKind, RoutingAdapter
from routing.http_errors import check, error_for, network, none_if_not_found
from routing.setup import RoutingSetup, crm_routing

VENDOR = "Lasso"
DEFAULT_URL = "https://api.lassocrm.com/v1"


def _reps(answer: Any) -> list[dict[str, Any]]:
    return [{"userId": str(rep.get("userId")), "isPrimary": bool(rep.get("isPrimary"))}
            for rep in answer or []]


def _owner(reps: list[dict[str, Any]]) -> str:
    return json.dumps(reps, separators=(",", ":"))


def _primary(owner: str) -> str:
    return next((rep["userId"] for rep in json.loads(owner) if rep["isPrimary"]), "")


class LassoCrm:
    """CrmClient over the Lasso CRM API (registrants and their assigned sales reps)."""

    name = "lasso"
    manual_steps: tuple[str, ...] = (
        "Lasso's API has no tasks: give {backup} {osc}'s open Lasso tasks due while away, "
        "and take them back on return",)

    def __init__(self, *, api_key: str, base_url: str = DEFAULT_URL,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=15.0,
                                  transport=transport,
                                  headers={"Authorization": f"Bearer {api_key}",
                                           "Accept": "application/json"})

    def user_id(self, person: PersonConfig) -> str:
        """`routing_ids.lasso_user_id`: Lasso's API cannot look a user up by email."""
        configured = person.routing_ids.get("lasso_user_id")
        if not configured:
            raise RoutingError(f"no lasso_user_id for {person.name} in app.yaml (Lasso's API "
                               "cannot look users up by email)")
        return configured

    def new_leads(self, *, owner_id: str, since: datetime) -> list[CrmRecord]:
        """Registrants registered since `since` whose primary sales rep is `owner_id`."""
        found: list[CrmRecord] = []
        params: dict[str, str] | None = {
            "registeredAfter": since.astimezone(UTC).date().isoformat()}
        path: str | None = "/registrants"
        while path:
            page = self._get(path, params=params, what="listing new registrants")
            for registrant in page.get("items", []):
                registered = datetime.fromisoformat(
                    str(registrant.get("registrationDate", "")).replace("Z", "+00:00"))
                if registered < since:
                    continue  # the query filters by day; the coverage starts at an instant
                record = CrmRecord(RecordKind.LEAD, str(registrant["registrantId"]),
                                   _owner(_reps(registrant.get("assignedSalesReps"))))
                if _primary(record.owner) == owner_id:
                    found.append(record)
            # The next link is relative to the API root and carries its own cursor.
            path, params = (page.get("links") or {}).get("next"), None
        return found

    def open_tasks(self, *, owner_id: str, due_before: datetime) -> list[CrmRecord]:
        """Lasso's API exposes no tasks: none are moved automatically."""
        return []

    def fetch(self, kind: RecordKind, record_id: str) -> CrmRecord | None:
        """The registrant's assigned sales reps now; None when it is gone."""
        response = none_if_not_found(lambda: self._request(
            "GET", f"/registrants/{record_id}/assigned-sales-reps",
            what=f"reading registrant {record_id}"))
        if response is None:
            return None
        owner = _owner(_reps(response.json()))
        return CrmRecord(kind, record_id, owner,
                         owner_label=f"primary sales rep {_primary(owner) or 'none'}")

    def handed_owner(self, record: CrmRecord, *, from_id: str, to_id: str) -> str:
        """The rep list with the backup in the OSC's place (and primary flag)."""
        reps: list[dict[str, Any]] = []
        for rep in json.loads(record.owner):
            user = to_id if rep["userId"] == from_id else rep["userId"]
            same = next((r for r in reps if r["userId"] == user), None)
            if same is None:
                reps.append({"userId": user, "isPrimary": rep["isPrimary"]})
            else:
                same["isPrimary"] = same["isPrimary"] or rep["isPrimary"]
        return _owner(reps)

    def set_owner(self, record: CrmRecord, *, owner: str) -> CrmRecord:
        """PUT the whole assigned-sales-reps list (Lasso replaces it)."""
        response = self._request("PUT", f"/registrants/{record.id}/assigned-sales-reps",
                                 what=f"reassigning registrant {record.id}",
                                 json=json.loads(owner))
        return CrmRecord(record.kind, record.id, _owner(_reps(response.json())), record.open)

    def _request(self, method: str, path: str, *, what: str, **options: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise network(exc, vendor=VENDOR, what=what, manual_step="") from None
        check(response, vendor=VENDOR, what=what, manual_step="")
        return response

    def _get(self, path: str, *, params: dict[str, str] | None, what: str) -> dict[str, Any]:
        answer = self._request("GET", path, what=what, params=params).json()
        if not isinstance(answer, dict):
            raise error_for(502, vendor=VENDOR, what=what, manual_step="")
        return answer


def build(setup: RoutingSetup) -> RoutingAdapter | None:
    """Lasso CRM's lead channel, with LASSO_API_KEY."""
    if not setup.env.get("LASSO_API_KEY"):
        return None
    return crm_routing(setup, LassoCrm(api_key=setup.env["LASSO_API_KEY"],
                                       base_url=setup.settings.get("base_url", DEFAULT_URL)))
