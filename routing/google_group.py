"""Email by Google Group: the backup joins the OSC's lead group while covering.

Lead emails reach whoever is in the group (`routing_ids.google_group`), so the
backup answers responsive leads directly: no autoresponder, no whole-inbox forward.
The OSC stays a member (their mailbox keeps the history). The snapshot is the exact
member list with each member's role; restore removes whoever is not in it and re-adds
anyone missing in the role they had. Members without an address (the whole
organisation, `type: CUSTOMER`) are left as they are. Uses the Admin SDK Directory API
as a delegated admin (`settings.admin_email`).
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
PAGE = 200  # members.list's largest page


class GoogleGroupRouting:
    """Switches responsive-lead email by group membership."""

    name = "google_group"

    def __init__(self, *, credentials: Any, api_endpoint: str | None = None) -> None:
        options = {"api_endpoint": api_endpoint} if api_endpoint else None
        self._members = discovery.build("admin", "directory_v1", credentials=credentials,
                              static_discovery=True, cache_discovery=False,
                              client_options=options).members()

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """The group's members now, with their roles."""
        group = self._group(osc)
        roles = self._roles(group, osc)
        emails = sorted(roles)
        return RoutingState("email", ",".join(emails), {
            "group": group, "members": json.dumps(emails),
            "roles": json.dumps(roles, sort_keys=True)})

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Add the backup to the group (idempotent)."""
        group = self._group(osc)
        current = self.read(osc=osc)
        if backup.email.lower() not in json.loads(current.details["members"]):
            # 409: already a member, under an alias of that address or added meanwhile.
            self._run(self._members.insert(groupKey=group, body={
                "email": backup.email, "role": "MEMBER", "delivery_settings": "ALL_MAIL"}),
                what=f"adding {backup.name} to {group}", step=self._step(group, backup),
                done_if=409)
        return self.read(osc=osc)

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Make the membership exactly the snapshot's."""
        group = snapshot.details["group"]
        wanted = set(json.loads(snapshot.details["members"]))
        # Snapshots from before roles were kept re-add everyone as a member.
        roles: dict[str, str] = json.loads(snapshot.details.get("roles", "{}"))
        now = set(self._roles(group, osc))
        step = f"In Google Admin, set {group}'s members back to: {', '.join(sorted(wanted))}"
        for extra in sorted(now - wanted):
            # 404: gone already (removed by hand, or by a run that died before noting it).
            self._run(self._members.delete(groupKey=group, memberKey=extra),
                      what=f"removing {extra} from {group}", step=step, done_if=404)
        for missing in sorted(wanted - now):
            self._run(self._members.insert(groupKey=group, body={
                "email": missing, "role": roles.get(missing, "MEMBER")}),
                what=f"re-adding {missing} to {group}", step=step, done_if=409)
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

    def _roles(self, group: str, osc: PersonConfig) -> dict[str, str]:
        """Each member's role by address, every page; members without an address (the
        whole organisation) are not ours to change and are left out."""
        roles: dict[str, str] = {}
        page: str | None = None
        while True:
            answer = self._run(self._members.list(groupKey=group, pageToken=page,
                                                  maxResults=PAGE),
                               what=f"reading {group}",
                               step=f"Check the Google Group {group} of {osc.name}")
            for member in answer.get("members", []):
                if member.get("email"):
                    roles[str(member["email"]).lower()] = str(member.get("role", "MEMBER"))
            page = answer.get("nextPageToken")
            if not page:
                return roles

    @staticmethod
    def _run(request: Any, *, what: str, step: str, done_if: int | None = None
             ) -> dict[str, Any]:
        try:
            result: dict[str, Any] = request.execute(num_retries=0) or {}
            return result
        except HttpError as exc:
            if int(exc.resp.status) == done_if:
                return {}
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
