"""Email by Google Group: the backup joins the OSC's lead group while covering.

Lead emails reach whoever is in the group (`routing_ids.google_group`), so the
backup answers responsive leads directly: no autoresponder, no whole-inbox forward.
The OSC stays a member (their mailbox keeps the history). The snapshot is the exact
member list; restore removes whoever the switch added and re-adds anyone missing.
Uses the Admin SDK Directory API as a delegated admin (`settings.admin_email`).
"""

from __future__ import annotations

import json
from typing import Any

from google.auth.exceptions import GoogleAuthError
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode, RoutingState
from routing.http_errors import error_for, network
from routing.setup import RoutingSetup, google_delegated

SCOPE = "https://www.googleapis.com/auth/admin.directory.group.member"


class GoogleGroupRouting:
    """Switches responsive-lead email by group membership."""

    name = "google_group"

    def __init__(self, *, credentials: Any, api_endpoint: str | None = None) -> None:
        options = {"api_endpoint": api_endpoint} if api_endpoint else None
        self._members = discovery.build("admin", "directory_v1", credentials=credentials,
                              static_discovery=True, cache_discovery=False,
                              client_options=options).members()

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """The group's members now."""
        group = self._group(osc)
        emails = sorted(m["email"].lower() for m in self._list(group, osc))
        return RoutingState("email", ",".join(emails), {"group": group,
                                                         "members": json.dumps(emails)})

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Add the backup to the group (idempotent)."""
        group = self._group(osc)
        current = self.read(osc=osc)
        if backup.email not in json.loads(current.details["members"]):
            self._run(self._members.insert(groupKey=group, body={
                "email": backup.email, "role": "MEMBER", "delivery_settings": "ALL_MAIL"}),
                what=f"adding {backup.name} to {group}", step=self._step(group, backup))
        return self.read(osc=osc)

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Make the membership exactly the snapshot's."""
        group = snapshot.details["group"]
        wanted = set(json.loads(snapshot.details["members"]))
        now = {m["email"].lower() for m in self._list(group, osc)}
        step = f"In Google Admin, set {group}'s members back to: {', '.join(sorted(wanted))}"
        for extra in sorted(now - wanted):
            self._run(self._members.delete(groupKey=group, memberKey=extra),
                      what=f"removing {extra} from {group}", step=step)
        for missing in sorted(wanted - now):
            self._run(self._members.insert(groupKey=group, body={"email": missing,
                                                                 "role": "MEMBER"}),
                      what=f"re-adding {missing} to {group}", step=step)
        return self.read(osc=osc)

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: the group exists and the admin may read its members."""
        try:
            self.read(osc=osc)
        except RoutingError as exc:
            return [str(exc)]
        return []

    def _group(self, osc: PersonConfig) -> str:
        group = osc.routing_ids.get("google_group")
        if not group:
            raise RoutingError(f"no google_group for {osc.name} in app.yaml")
        return group

    def _list(self, group: str, osc: PersonConfig) -> list[dict[str, str]]:
        members: list[dict[str, str]] = []
        page: str | None = None
        while True:
            answer = self._run(self._members.list(groupKey=group, pageToken=page),
                               what=f"reading {group}",
                               step=f"Check the Google Group {group} of {osc.name}")
            members.extend(answer.get("members", []))
            page = answer.get("nextPageToken")
            if not page:
                return members

    @staticmethod
    def _run(request: Any, *, what: str, step: str) -> dict[str, Any]:
        try:
            result: dict[str, Any] = request.execute(num_retries=0) or {}
            return result
        except HttpError as exc:
            raise error_for(int(exc.resp.status), vendor="Google Admin", what=what,
                            manual_step=step,
                            retry_after=str(exc.resp.get("retry-after", ""))) from None
        except GoogleAuthError:
            raise error_for(401, vendor="Google Admin", what=what, manual_step=step) from None
        except OSError as exc:
            raise network(exc, vendor="Google Admin", what=what, manual_step=step) from None

    @staticmethod
    def _step(group: str, backup: PersonConfig) -> str:
        return f"In Google Admin, add {backup.email} to the group {group}"


def build(setup: RoutingSetup) -> GoogleGroupRouting | None:
    """The lead email group, changed as the Workspace admin in `admin_email`, with the
    service-account key in GOOGLE_APPLICATION_CREDENTIALS."""
    key = setup.env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not key:
        return None
    return GoogleGroupRouting(credentials=google_delegated(
        key, (SCOPE,), setup.settings.get("admin_email", "")))
