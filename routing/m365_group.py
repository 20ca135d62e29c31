"""Email by Microsoft 365 group: the backup joins the group that receives the OSC's lead
email while covering, and leaves it on return (only if oscbot added them).

The Exchange counterpart of `google_group`. `routing_ids.m365_group` is the group's
object id or one of its addresses. Microsoft 365 groups and security groups are changed
through Graph (`members/$ref`, GroupMember.ReadWrite.All). What Graph cannot change is a
confirmed manual step, never an error: mail-enabled security groups and distribution
lists (read-only in Graph), dynamic groups (members come from a rule) and groups synced
from on-premises Active Directory (changed there). A Microsoft 365 group that does not
subscribe new members delivers their mail to the group only, not their inbox: the switch
is made and the step the backup takes by hand is said with it.

People are matched by directory object id, never by address: app.yaml may hold an alias,
and without a user-read permission Graph lists members as ids only. `/users/{key}` takes
an id or userPrincipalName; any other address is looked up with `$filter` on `mail` and
`proxyAddresses`. Needs GroupMember.ReadWrite.All and User.Read.All (User.ReadBasic.All
does not cover reading a user without a signed-in user).

Directory writes replicate: a read right after `members/$ref` may not show the change
yet. Switch and restore read the members back, with retries, until the change shows or
the settle window ends (then the engine retries the switch later). This window belongs to
this adapter's own read-back; the engine's verification of a switch is separate.

The snapshot is the member list; a membership changed by hand meanwhile reads back
differently and is a conflict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.config.model import PersonConfig
from bot.errors import ManualStepRequired, RoutingError
from bot.model import CoverageMode, RoutingState
from bot.ports.clock import Clock
from m365.access import explain, routing_error, write_problem
from m365.graph import GraphClient, GraphError

if TYPE_CHECKING:
    from routing.setup import RoutingSetup

WHAT = "group members"
GROUP_FIELDS = ("id,mail,displayName,groupTypes,mailEnabled,securityEnabled,"
                "membershipRule,onPremisesSyncEnabled")
MEMBER_FIELDS = "id,mail,userPrincipalName"
# Advanced query parameters: an eventually consistent index that answers any `$filter`
# (learn.microsoft.com/graph/aad-advanced-queries).
EVENTUAL = {"ConsistencyLevel": "eventual"}
SETTLE = timedelta(seconds=30)
FIRST_WAIT = 1.0
# Reads within one settle window at most, whatever the clock does (1 + 2 + 4 + … seconds).
MAX_READS = 8


@dataclass(frozen=True)
class Handover:
    """What a person must do instead of Graph, or besides it."""

    reason: str
    step: str


class M365GroupRouting:
    """Switches responsive-lead email by group membership."""

    name = "m365_group"

    def __init__(self, *, client: GraphClient, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 settle: timedelta = SETTLE) -> None:
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._settle = settle

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], client: GraphClient, *,
                      clock: Clock | None = None) -> M365GroupRouting:
        """Built from `routing.email.settings` in app.yaml (no settings needed)."""
        return cls(client=client, clock=clock)

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """The group's members now."""
        group = self._group(osc)
        return self._state(group, self._members(group, osc))

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Add the backup to the group (idempotent); read back until the directory shows it."""
        group = self._group(osc)
        manual = self._by_hand(group, backup)
        if manual is not None:
            raise ManualStepRequired(manual.reason, manual_step=manual.step)
        step = (f"In the Microsoft 365 admin center (Teams & groups → Active teams & groups), "
                f"add {backup.email} to {_name(group)} as a member")
        user_id = self._user_id(backup.email, osc, step)
        if user_id not in self._members(group, osc):
            reference = {"@odata.id": f"{self._client.config.base_url}/directoryObjects/"
                                      f"{user_id}"}
            try:
                # Adding twice is harmless (400 "already exist"), so a lost answer may retry.
                self._client.request("POST", f"groups/{quote(str(group['id']))}/members/$ref",
                                     mailbox=osc.email, body=reference, idempotent=True)
            except GraphError as exc:
                # A retried switch may find the backup added already: that is the goal.
                if not (exc.status == 400 and "already exist" in exc.message):
                    raise self._error(exc, osc, doing=f"adding {backup.email} to the group",
                                      step=step) from None
        state = self._state(group, self._settled(group, osc, present={user_id}, absent=set()))
        note = self._delivery_note(group, backup, osc)
        if note:
            state.details["also_by_hand"] = note
        return state

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Remove whoever joined since the snapshot (the backup oscbot added); nobody else."""
        group = self._group(osc)
        wanted_ids = set(json.loads(snapshot.details.get("member_ids", "null")) or ())
        wanted = set(json.loads(snapshot.details.get("members", "[]")))
        before = ", ".join(sorted(wanted)) or "nobody"
        step = f"Set the members of {_name(group)} back to: {before}"
        manual = self._by_hand(group, None, restore_to=before)
        if manual is not None:
            raise ManualStepRequired(manual.reason, manual_step=manual.step)
        current = self._members(group, osc)
        # Journals written before member ids were kept name members by address.
        leaving = {member_id: address for member_id, address in current.items()
                   if member_id not in wanted_ids and not (not wanted_ids and address in wanted)}
        for member_id, address in leaving.items():
            try:
                self._client.request(
                    "DELETE", f"groups/{quote(str(group['id']))}/members/{member_id}/$ref",
                    mailbox=osc.email)
            except GraphError as exc:
                if exc.status != 404:
                    raise self._error(exc, osc, doing=f"removing {address} from the group",
                                      step=step) from None
        return self._state(group, self._settled(group, osc, present=set(),
                                                absent=set(leaving)))

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: the group and the backup can be read, the app may change members, and
        what a person will have to do by hand."""
        try:
            group = self._group(osc)
            self._members(group, osc)
            manual = self._by_hand(group, backup)
            if manual is not None:
                return [f"manual step: {manual.reason}; the brief will ask for it to be done "
                        f"by hand and confirmed: {manual.step}"]
            self._user_id(backup.email, osc, "")
            roles = self._client.roles()
        except (RoutingError, GraphError) as exc:
            return [str(exc)]
        app_id = self._client.config.client_id
        problems = [p for p in (write_problem(roles, what=WHAT, app_id=app_id),
                                write_problem(roles, what="users", app_id=app_id)) if p]
        note = self._delivery_note(group, backup, osc)
        return problems + ([f"manual step: {note}"] if note else [])

    # --- the group -------------------------------------------------------------

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
                "$filter": _by_address(reference), "$select": GROUP_FIELDS,
                "$count": "true"}, headers=EVENTUAL).get("value", [])
        except GraphError as exc:
            raise self._error(exc, osc, doing=f"reading the group {reference}",
                              step=step) from None
        if not found:
            raise RoutingError(f"no Microsoft 365 group with the address {reference}",
                               manual_step=step, not_found=True)
        group: dict[str, Any] = found[0]
        return group

    def _by_hand(self, group: Mapping[str, Any], backup: PersonConfig | None, *,
                 restore_to: str | None = None) -> Handover | None:
        """The manual step for a group Graph cannot change (adding `backup`, or putting the
        members back to `restore_to`), or None when Graph can change it."""
        who = backup.email if backup is not None else "the backup"
        change = (f"set the members of {_name(group)} back to: {restore_to}"
                  if restore_to is not None else f"add {who} to {_name(group)}")
        if group.get("onPremisesSyncEnabled"):
            return Handover(
                "the group is synced from on-premises Active Directory, so Graph cannot "
                "change its members",
                f"in on-premises Active Directory (Active Directory Users and Computers, or "
                f"the Exchange admin center on-premises), {change}; Microsoft 365 shows it "
                "after the next Microsoft Entra Connect sync (about 30 minutes)")
        if "DynamicMembership" in (group.get("groupTypes") or []):
            rule = group.get("membershipRule") or "its membership rule"
            return Handover(
                "the group is a dynamic group: its members come from a rule, so Graph "
                "cannot add or remove anyone",
                (f"{_name(group)} is a dynamic group (members from the rule {rule}): undo "
                 "what was done instead of adding the backup" if restore_to is not None else
                 f"{_name(group)} is a dynamic group (members from the rule {rule}), so "
                 f"nobody can add {who} to it: send {who} the lead mail another way (a "
                 "forwarding rule, or a group with assigned members), or have an admin "
                 "change what the rule reads in the Microsoft Entra admin center; undo it on "
                 "return"))
        if _read_only(group):
            return Handover(
                "Graph cannot change a mail-enabled security group or distribution list",
                f"in the Exchange admin center (Recipients → Groups), {change}")
        return None

    def _delivery_note(self, group: Mapping[str, Any], backup: PersonConfig,
                       osc: PersonConfig) -> str:
        """What the backup does by hand to get the group's mail in their inbox, or ""."""
        if "Unified" not in (group.get("groupTypes") or []):
            return ""  # only Microsoft 365 groups keep mail in a group mailbox
        try:
            # "Supported only on the Get group API"; Graph serves it to signed-in users
            # only (Known issues: group subscription is delegated-only), so the app may be
            # refused and then cannot tell.
            setting = self._client.get(f"groups/{quote(str(group['id']))}", mailbox=osc.email,
                                       params={"$select": "autoSubscribeNewMembers"}
                                       ).get("autoSubscribeNewMembers")
        except GraphError:
            setting = None
        if setting is True:
            return ""
        follow = (f"{backup.name} opens {_name(group)} in Outlook and chooses Follow in inbox "
                  f"(or an admin runs Add-UnifiedGroupLinks -Identity {_name(group)} "
                  f"-LinkType Subscribers -Links {backup.email})")
        if setting is False:
            return (f"the group does not send its mail to new members' inboxes: {follow}")
        return (f"Graph does not tell the app whether the group sends its mail to new "
                f"members' inboxes; if {backup.name} does not see lead mail in their inbox, "
                f"{follow}")

    # --- members and people ------------------------------------------------------

    def _members(self, group: Mapping[str, Any], osc: PersonConfig) -> dict[str, str]:
        """Member id → address (lower case; the id when Graph does not show one), every page."""
        members: dict[str, str] = {}
        try:
            for page in self._client.pages(
                    f"groups/{quote(str(group['id']))}/members", mailbox=osc.email,
                    params={"$select": MEMBER_FIELDS}):
                for member in page.get("value", []):
                    address = member.get("mail") or member.get("userPrincipalName") or ""
                    members[str(member["id"])] = str(address).lower() or str(member["id"])
        except GraphError as exc:
            raise self._error(exc, osc, doing="reading the group's members",
                              step=f"Check the members of {_name(group)}") from None
        return members

    def _settled(self, group: Mapping[str, Any], osc: PersonConfig, *, present: set[str],
                 absent: set[str]) -> dict[str, str]:
        """The members, read again (waiting longer each time) until `present` show and
        `absent` are gone, as directory replicas catch up with a write."""
        started = self._now()
        wait = FIRST_WAIT
        attempt = 0
        while True:
            attempt += 1
            members = self._members(group, osc)
            if present <= members.keys() and not absent & members.keys():
                return members
            left = self._settle.total_seconds() - (self._now() - started)
            if left <= 0 or attempt == MAX_READS:
                raise RoutingError(
                    f"Microsoft 365 accepted the change to {_name(group)} but does not show "
                    f"it yet after {self._settle.total_seconds():g} s (directory "
                    "replication); it is checked again", transient=True, retry_after=wait)
            self._sleep(min(wait, left))
            wait *= 2

    def _now(self) -> float:
        return self._clock.now().timestamp() if self._clock is not None else time.monotonic()

    def _user_id(self, email: str, osc: PersonConfig, step: str) -> str:
        """The directory id of the person with this address: `/users/{key}` takes an id or
        userPrincipalName only, so any other address is found by `mail` or `proxyAddresses`."""
        doing = f"looking up {email}"
        try:
            try:
                user = self._client.get(f"users/{quote(email)}", mailbox=osc.email,
                                        params={"$select": "id"})
                return str(user["id"])
            except GraphError as exc:
                if exc.status != 404:
                    raise
            found = self._client.get("users", mailbox=osc.email, params={
                "$filter": _by_address(email), "$select": MEMBER_FIELDS, "$count": "true"},
                headers=EVENTUAL).get("value", [])
        except GraphError as exc:
            raise self._users_error(exc, doing=doing, step=step) from None
        if len(found) != 1:
            problem = ("no user in the directory has" if not found
                       else f"{len(found)} users in the directory share")
            raise RoutingError(f"Microsoft Graph: {doing}: {problem} the address {email}; "
                               "check it in app.yaml", manual_step=step,
                               not_found=not found)
        return str(found[0]["id"])

    def _state(self, group: Mapping[str, Any], members: Mapping[str, str]) -> RoutingState:
        addresses = sorted(members.values())
        details = {"group": str(group["id"]), "members": json.dumps(addresses),
                   "member_ids": json.dumps(sorted(members))}
        if self._by_hand(group, None) is not None:
            # Graph cannot change it: a person does, so its state proves nothing.
            details["manual"] = "true"
        return RoutingState("email", ",".join(addresses), details)

    def _error(self, exc: GraphError, osc: PersonConfig, *, doing: str, step: str
               ) -> RoutingError:
        roles = self._roles() if exc.status == 403 else None
        return routing_error(exc, what=WHAT, doing=doing, manual_step=step,
                             app_id=self._client.config.client_id, roles=roles)

    def _users_error(self, exc: GraphError, *, doing: str, step: str) -> RoutingError:
        roles = self._roles() if exc.status == 403 else None
        reason = explain(exc, what="users", app_id=self._client.config.client_id, roles=roles)
        return RoutingError(f"Microsoft Graph: {doing} failed: {reason}",
                            transient=exc.transient, retry_after=exc.retry_after,
                            manual_step=step, not_found=exc.status == 404)

    def _roles(self) -> set[str] | None:
        try:
            return self._client.roles()
        except GraphError:
            return None


def _by_address(address: str) -> str:
    """A `$filter` for a user or group by any of its SMTP addresses (mail is the primary;
    proxyAddresses hold it as SMTP: and the aliases as smtp:, compared ignoring case)."""
    quoted = address.lower().replace("'", "''")
    return f"mail eq '{quoted}' or proxyAddresses/any(p:p eq 'smtp:{quoted}')"


def _name(group: Mapping[str, Any]) -> str:
    return str(group.get("mail") or group.get("displayName") or group["id"])


def _read_only(group: Mapping[str, Any]) -> bool:
    """Mail-enabled security groups and distribution lists cannot be changed through Graph."""
    return "Unified" not in (group.get("groupTypes") or []) and bool(group.get("mailEnabled"))


def build(setup: RoutingSetup) -> M365GroupRouting | None:
    """Built on the shared Graph client (GRAPH_CLIENT_ID, _SECRET and _TENANT_ID)."""
    client = setup.graph()
    return None if client is None else M365GroupRouting.from_settings(
        setup.settings, client, clock=setup.clock)

