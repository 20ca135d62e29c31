"""A local fake of HubSpot's CRM v3 owners, search, read and update endpoints."""

from __future__ import annotations

from typing import Any

from tests.routing.fake_vendor import FakeVendor

STAMP = "2026-11-01T00:00:00.000Z"


def _matches(record: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    for f in filters:
        value = str(record["properties"].get(f["propertyName"]) or "")
        wanted = f["value"]
        numeric = value.isdigit() and wanted.isdigit()
        left, right = (int(value), int(wanted)) if numeric else (value, wanted)
        ok = {"EQ": left == right, "NEQ": left != right, "GTE": left >= right,
              "LT": left < right}[f["operator"]]
        if not ok:
            return False
    return True


class FakeHubSpot(FakeVendor):
    """Owners by email; objects by type and id; search honours EQ/NEQ/GTE/LT and paging."""

    def __init__(self, *, token: str, owners: dict[str, str]) -> None:
        self.owners = owners
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"contacts": {}, "tasks": {}}
        super().__init__(self._route, auth=f"Bearer {token}")

    def put(self, object_type: str, record_id: str, **properties: str) -> None:
        """Store an object with these properties."""
        self.objects[object_type][record_id] = {
            "id": record_id, "properties": dict(properties), "createdAt": STAMP,
            "updatedAt": STAMP, "archived": False}

    def owner_of(self, object_type: str, record_id: str) -> str:
        """The object's hubspot_owner_id now."""
        return str(self.objects[object_type][record_id]["properties"]["hubspot_owner_id"])

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any
               ) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts[:3] == ["crm", "v3", "owners"] and method == "GET":
            email = query.get("email", [""])[0]
            return 200, {"results": [
                {"id": owner_id, "email": address, "firstName": "", "lastName": "",
                 "userId": 1, "createdAt": STAMP, "updatedAt": STAMP, "archived": False}
                for address, owner_id in self.owners.items() if address == email]}
        if parts[:3] != ["crm", "v3", "objects"] or len(parts) != 5:
            return 404, {"status": "error", "message": "Not found"}
        store = self.objects.get(parts[3])
        if store is None:
            return 404, {"status": "error", "message": f"Unknown object type {parts[3]}"}
        if parts[4] == "search" and method == "POST":
            hits = [r for r in store.values()
                    if _matches(r, body["filterGroups"][0]["filters"])]
            start = int(body.get("after") or 0)
            page = hits[start:start + int(body.get("limit", 10))]
            answer: dict[str, Any] = {"total": len(hits), "results": page}
            if start + len(page) < len(hits):
                answer["paging"] = {"next": {"after": str(start + len(page))}}
            return 200, answer
        record = store.get(parts[4])
        if record is None:
            return 404, {"status": "error", "message": "Object not found", "category":
                         "OBJECT_NOT_FOUND"}
        if method == "PATCH":
            record["properties"].update(body["properties"])
        return 200, record
