"""A local fake of CallRail's API v3 trackers (https://apidocs.callrail.com/#trackers),
strict where CallRail is:

- the API key (`Authorization: Token token="..."`), 401 otherwise;
- updating a tracker replaces its whole `call_flow`, and takes only the call-flow keys
  CallRail documents as writable for a basic flow (type, destination_number,
  recording_enabled, greeting_text, greeting_recording_url): anything else is refused
  with 400. Reading a tracker returns more than that — here each flow's own id — so a
  client that writes back what it read is refused, as CallRail may refuse it.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.routing.fake_vendor import FakeVendor, Reply, Request

WRITABLE_BASIC = {"type", "destination_number", "recording_enabled", "greeting_text",
                  "greeting_recording_url"}


class FakeCallRail(FakeVendor):
    """One account's trackers by id."""

    def __init__(self, *, api_key: str, account_id: str) -> None:
        self.api_key = api_key
        self.account_id = account_id
        self.trackers: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        super().__init__()

    def add_tracker(self, tracker_id: str, call_flow: dict[str, Any]) -> None:
        """A source tracker with this call flow (given its read-only id)."""
        self.trackers[tracker_id] = {
            "id": tracker_id, "name": f"Website {tracker_id}", "type": "source",
            "status": "active", "tracking_numbers": ["+15125559000"],
            "call_flow": {"id": f"CF{next(self._ids):04d}", **call_flow}}

    def flow(self, tracker_id: str) -> dict[str, Any]:
        """A tracker's call flow without its read-only id."""
        return {k: v for k, v in self.trackers[tracker_id]["call_flow"].items() if k != "id"}

    def answer(self, request: Request) -> Reply:
        """CallRail's answer."""
        if request.headers.get("authorization") != f'Token token="{self.api_key}"':
            return Reply(401, {"error": "HTTP Token: Access denied."})
        parts = request.path.split("/")  # /v3/a/ACC1/trackers/TRK1.json
        if len(parts) != 6 or parts[3] != self.account_id or parts[4] != "trackers":
            return Reply(404, {"error": "Not found"})
        tracker = self.trackers.get(parts[5].removesuffix(".json"))
        if tracker is None:
            return Reply(404, {"error": "Not found"})
        if request.method == "PUT":
            flow = (request.body or {}).get("call_flow", {})
            extra = sorted(set(flow) - WRITABLE_BASIC)
            if flow.get("type") == "basic" and extra:
                return Reply(400, {"error": f"Invalid call_flow parameters: {', '.join(extra)}"})
            # CallRail replaces the whole flow (the flow keeps its id).
            tracker["call_flow"] = {"id": tracker["call_flow"].get("id"), **flow}
        return Reply(200, tracker)
