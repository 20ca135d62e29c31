"""CallRail: point an OSC's tracking numbers at the backup, and back.

CallRail's tracker update replaces the whole `call_flow`, so the snapshot keeps the
whole call flow of every tracker and restore puts it back as it was. Only basic
call flows (ring one number) are switched: menus, schedules and round-robins
cannot be restored exactly and are refused with the manual step instead. A tracker
read back carries more than an update takes, so only the call-flow keys CallRail
documents as writable are ever sent (https://apidocs.callrail.com/#trackers).
Trackers come from `routing_ids.callrail_tracker_ids` (comma separated).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode, RoutingState
from routing import http_errors

if TYPE_CHECKING:
    from routing.setup import RoutingSetup

API = "https://api.callrail.com/v3"
# What an update of a basic call flow takes; everything else in a flow read back is not ours
# to send.
WRITABLE_BASIC = ("type", "destination_number", "recording_enabled", "greeting_text",
                  "greeting_recording_url")


def writable(flow: dict[str, object]) -> dict[str, object]:
    """The part of a basic call flow that an update takes."""
    return {key: flow[key] for key in WRITABLE_BASIC if key in flow}


class CallRailRouting:
    """Switches calls by changing each tracker's destination number."""

    name = "callrail"

    def __init__(self, *, api_key: str, account_id: str, base_url: str = API,
                 client: httpx.Client | None = None) -> None:
        self._account = account_id
        self._base = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=15)
        self._headers = {"Authorization": f'Token token="{api_key}"',
                         "Content-Type": "application/json"}

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """Where each tracker rings now; the snapshot holds every full call flow."""
        flows = {tracker: self._tracker(tracker, osc)["call_flow"]
                 for tracker in self._trackers(osc)}
        targets = {str(f.get("destination_number", "")) for f in flows.values()}
        target = targets.pop() if len(targets) == 1 else "mixed"
        return RoutingState("calls", target, {
            "call_flows": json.dumps(flows, sort_keys=True)})

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Ring the backup's phone on every basic tracker of the OSC."""
        if not backup.phone:
            raise RoutingError(f"{backup.name} has no phone number in app.yaml",
                               manual_step=self._step(osc, backup))
        for tracker in self._trackers(osc):
            flow = self._tracker(tracker, osc)["call_flow"]
            if flow.get("type") != "basic":
                raise RoutingError(
                    f"CallRail tracker {tracker} uses a '{flow.get('type')}' call flow that "
                    "oscbot cannot restore exactly; switch it by hand",
                    manual_step=self._step(osc, backup))
            if flow.get("destination_number") != backup.phone:
                self._put(tracker, {**writable(flow), "destination_number": backup.phone},
                          osc, backup)
        return RoutingState("calls", backup.phone)

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Put every tracker's call flow back exactly as the snapshot had it."""
        flows: dict[str, dict[str, object]] = json.loads(snapshot.details["call_flows"])
        for tracker, flow in flows.items():
            current = self._tracker(tracker, osc)["call_flow"]
            if writable(current) != writable(flow):
                self._put(tracker, writable(flow), osc, osc)
        return self.read(osc=osc)

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: trackers exist, are basic, and the backup has a phone."""
        problems = [] if backup.phone else [f"{backup.name} has no phone number in app.yaml"]
        try:
            for tracker in self._trackers(osc):
                flow = self._tracker(tracker, osc)["call_flow"]
                if flow.get("type") != "basic":
                    problems.append(f"tracker {tracker} has a '{flow.get('type')}' call flow; "
                                    "it must be switched by hand")
        except RoutingError as exc:
            problems.append(str(exc))
        return problems

    def _trackers(self, osc: PersonConfig) -> list[str]:
        ids = [t.strip() for t in osc.routing_ids.get("callrail_tracker_ids", "").split(",")]
        if not any(ids):
            raise RoutingError(f"no callrail_tracker_ids for {osc.name} in app.yaml")
        return [t for t in ids if t]

    def _url(self, tracker: str) -> str:
        return f"{self._base}/a/{self._account}/trackers/{tracker}.json"

    def _tracker(self, tracker: str, osc: PersonConfig) -> dict[str, dict[str, object]]:
        step = f"Check CallRail tracker {tracker} for {osc.name}"
        try:
            response = self._client.get(self._url(tracker), headers=self._headers)
        except httpx.HTTPError as exc:
            raise http_errors.network(exc, vendor="CallRail", what=f"reading {tracker}",
                                      manual_step=step) from None
        http_errors.check(response, vendor="CallRail", what=f"reading tracker {tracker}",
                          manual_step=step)
        data: dict[str, dict[str, object]] = response.json()
        return data

    def _put(self, tracker: str, flow: dict[str, object], osc: PersonConfig,
             target: PersonConfig) -> None:
        step = self._step(osc, target)
        try:
            response = self._client.put(self._url(tracker), headers=self._headers,
                                        json={"call_flow": flow})
        except httpx.HTTPError as exc:
            raise http_errors.network(exc, vendor="CallRail", what=f"updating {tracker}",
                                      manual_step=step) from None
        http_errors.check(response, vendor="CallRail", what=f"updating tracker {tracker}",
                          manual_step=step)

    @staticmethod
    def _step(osc: PersonConfig, target: PersonConfig) -> str:
        trackers = osc.routing_ids.get("callrail_tracker_ids", "(none listed)")
        return (f"In CallRail, open trackers {trackers} and set their destination to "
                f"{target.name} ({target.phone or 'no phone on file'})")


def build(setup: RoutingSetup) -> CallRailRouting | None:
    """CallRail's tracking numbers, with CALLRAIL_API_KEY and the account id in settings."""
    if not setup.env.get("CALLRAIL_API_KEY"):
        return None
    return CallRailRouting(api_key=setup.env["CALLRAIL_API_KEY"],
                           account_id=setup.settings.get("account_id", ""),
                           base_url=setup.settings.get("base_url", "https://api.callrail.com/v3"))
