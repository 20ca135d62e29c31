"""Email by Microsoft 365 group: the backup joins the group that receives the OSC's lead
email while covering, and leaves it on return (only if oscbot added them).

The Exchange counterpart of `google_group`. `routing_ids.m365_group` is the group's
object id or its address. Microsoft 365 groups and security groups are changed
through Graph (`members/$ref`, GroupMember.ReadWrite.All); mail-enabled security
groups and distribution lists are read-only in Graph, so for them the switch is a
confirmed manual step in the Exchange admin center. The snapshot is the member list;
a membership changed by hand meanwhile reads back differently and is a conflict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.config.model import PersonConfig
from bot.errors import ManualStepRequired, RoutingError
from bot.model import CoverageMode, RoutingState
from m365.access import routing_error, write_problem
from m365.graph import GraphClient, GraphError

if TYPE_CHECKING:
    from routing.setup import RoutingSetup

WHAT = "group members"
GROUP_FIELDS = "id,mail,displayName,groupTypes,mailEnabled,securityEnabled"


class M365GroupRouting:
    """Switches responsive-lead email by group membership."""

    name = "m365_group"

    def __init__(self, *, client: GraphClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], client: GraphClient
                      ) -> M365GroupRouting:
        """Built from `routing.email.settings` in app.yaml (no settings needed)."""
        return cls(client=client)

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """The group's members now."""
        group = self._group(osc)
        members = sorted(self._members(group, osc).values())
        details = {"group": str(group["id"]), "members": json.dumps(members)}
        if _read_only(group):
            # Graph cannot change it: a person does, so its state proves nothing.
            details["manual"] = "true"
        return RoutingState("email", ",".join(members), details)

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Add the backup to the group (idempotent)."""
        group = self._group(osc)
        step = (f"In the Exchange admin center (Recipients → Groups), add {backup.email} to "
                f"{group.get('mail') or group['id']}")
        if _read_only(group):
            raise ManualStepRequired("Graph cannot change a mail-enabled security group or "
                                     "distribution list", manual_step=step)
        if backup.email in self._members(group, osc).values():
            return self.read(osc=osc)
        user_id = self._user_id(backup.email, osc, step)
        reference = {"@odata.id": f"{self._client.config.base_url}/directoryObjects/{user_id}"}
        try:
            self._client.request("POST", f"groups/{quote(str(group['id']))}/members/$ref",
                                 mailbox=osc.email, body=reference)
        except GraphError as exc:
            # A retried switch may find the backup added already: that is the goal.
            if not (exc.status == 400 and "already exist" in exc.message):
                raise self._error(exc, osc, doing=f"adding {backup.email} to the group",
                                  step=step) from None
        return self.read(osc=osc)

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Remove whoever joined since the snapshot (the backup oscbot added); nobody else."""
        group = self._group(osc)
        wanted = set(json.loads(snapshot.details.get("members", "[]")))
        step = (f"In the Exchange admin center, set the members of "
                f"{group.get('mail') or group['id']} back to: {', '.join(sorted(wanted))}")
        if _read_only(group):
            raise ManualStepRequired("Graph cannot change a mail-enabled security group",
                                     manual_step=step)
        for member_id, email in self._members(group, osc).items():
            if email in wanted:
                continue
            try:
                self._client.request(
                    "DELETE", f"groups/{quote(str(group['id']))}/members/{member_id}/$ref",
                    mailbox=osc.email)
            except GraphError as exc:
                if exc.status != 404:
                    raise self._error(exc, osc, doing=f"removing {email} from the group",
                                      step=step) from None
        return self.read(osc=osc)

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: the group and the backup can be read, and the app may change members."""
        try:
            state = self.read(osc=osc)
            if state.details.get("manual") == "true":
                return ["manual step: Graph cannot change a mail-enabled security group or "
                        "distribution list; the brief will ask for it to be done by hand"]
            self._user_id(backup.email, osc, "")
            roles = self._client.roles()
        except (RoutingError, GraphError) as exc:
            return [str(exc)]
        missing = write_problem(roles, what=WHAT, app_id=self._client.config.client_id)
        return [missing] if missing else []

    def _group(self, osc: PersonConfig) -> dict[str, Any]:
        reference = osc.routing_ids.get("m365_group")
        if not reference:
            raise RoutingError(f"no m365_group for {osc.name} in app.yaml (the group's object "
                               "id or address)")
        step = f"Check the Microsoft 365 group {reference} of {osc.name}"
        try:
            if "@" not in reference:
                return self._client.get(f"groups/{quote(reference)}", mailbox=osc.email,
                                        params={"$select": GROUP_FIELDS})
            found = self._client.get("groups", mailbox=osc.email, params={
                "$filter": f"mail eq '{reference.replace(chr(39), chr(39) * 2)}'",
                "$select": GROUP_FIELDS}).get("value", [])
        except GraphError as exc:
            raise self._error(exc, osc, doing=f"reading the group {reference}",
                              step=step) from None
        if not found:
            raise RoutingError(f"no Microsoft 365 group with the address {reference}",
                               manual_step=step, not_found=True)
        group: dict[str, Any] = found[0]
        return group

    def _members(self, group: Mapping[str, Any], osc: PersonConfig) -> dict[str, str]:
        """Member id → address (lower case), every page."""
        members: dict[str, str] = {}
        try:
            for page in self._client.pages(
                    f"groups/{quote(str(group['id']))}/members", mailbox=osc.email,
                    params={"$select": "id,mail,userPrincipalName"}):
                for member in page.get("value", []):
                    address = member.get("mail") or member.get("userPrincipalName") or ""
                    members[str(member["id"])] = str(address).lower() or str(member["id"])
        except GraphError as exc:
            raise self._error(exc, osc, doing="reading the group's members",
                              step=f"Check the members of {group.get('mail')}") from None
        return members

    def _user_id(self, email: str, osc: PersonConfig, step: str) -> str:
        try:
            user = self._client.get(f"users/{quote(email)}", mailbox=osc.email,
                                    params={"$select": "id"})
        except GraphError as exc:
            raise routing_error(exc, what="users", doing=f"looking up {email}",
                                manual_step=step, app_id=self._client.config.client_id
                                ) from None
        return str(user["id"])

    def _error(self, exc: GraphError, osc: PersonConfig, *, doing: str, step: str
               ) -> RoutingError:
        return routing_error(exc, what=WHAT, doing=doing, manual_step=step,
                             app_id=self._client.config.client_id)


def _read_only(group: Mapping[str, Any]) -> bool:
    """Mail-enabled security groups and distribution lists cannot be changed through Graph."""
    return "Unified" not in (group.get("groupTypes") or []) and bool(group.get("mailEnabled"))


def build(setup: RoutingSetup) -> M365GroupRouting | None:
    """Built on the shared Graph client (GRAPH_CLIENT_ID, _SECRET and _TENANT_ID)."""
    client = setup.graph()
    return None if client is None else M365GroupRouting.from_settings(setup.settings, client)
