"""Graph refusals in words an admin can act on: which application permission (or
Exchange RBAC for Applications role) a feature needs, and the admin step that grants it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import RoutingError
from m365.graph import GraphError

SCOPE_NAME = "oscbot sales team"


@dataclass(frozen=True)
class Need:
    """What one feature needs from the tenant: the least application permission, the
    broader ones that include it, and the Exchange role that can scope it to mailboxes."""

    permission: str
    exchange_role: str | None  # Exchange RBAC for Applications can scope it to mailboxes
    broader: tuple[str, ...] = ()
    # Why Graph may still refuse when the permission is granted.
    refused_anyway: str = ""
    # Permissions with a similar name that do not cover it (admins grant them by mistake).
    not_enough: tuple[str, ...] = ()


# The least privileged application permission of each call, from its page in the Graph
# reference (learn.microsoft.com/graph/api/…, "Permissions"). User.ReadBasic.All is not
# enough for GET /users/{id}: that page lists User.Read.All as the least application one.
NEEDS: dict[str, Need] = {
    "calendar": Need("Calendars.Read", "Application Calendars.Read",
                     ("Calendars.ReadWrite",)),
    "automatic replies": Need("MailboxSettings.Read", "Application MailboxSettings.Read",
                              ("MailboxSettings.ReadWrite",)),
    "inbox rules": Need("MailboxSettings.ReadWrite", "Application MailboxSettings.ReadWrite"),
    "group members": Need(
        "GroupMember.ReadWrite.All", None, ("Group.ReadWrite.All", "Directory.ReadWrite.All"),
        refused_anyway="the group may be role-assignable (that also needs "
                       "RoleManagement.ReadWrite.Directory) or a kind Graph cannot change "
                       "(dynamic membership, synced from on-premises Active Directory, "
                       "mail-enabled security group, distribution list)"),
    "users": Need("User.Read.All", None,
                  ("User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
                  not_enough=("User.ReadBasic.All",)),
    "domains": Need("Domain.Read.All", None,
                    ("Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")),
}


def holds(roles: set[str], what: str) -> bool:
    """True when the token's roles include the permission `what` needs, or a broader one."""
    need = NEEDS[what]
    return bool(roles & {need.permission, *need.broader})


def admin_step(what: str, *, app_id: str = "<app id>", mailbox: str = "") -> str:
    """The admin step that grants the permission `what` needs."""
    need = NEEDS[what]
    entra = (f"in the Microsoft Entra admin center open App registrations → the oscbot app "
             f"→ API permissions → Add a permission → Microsoft Graph → Application "
             f"permissions → {need.permission}, then Grant admin consent")
    if need.exchange_role is None:
        return entra[0].upper() + entra[1:]
    target = mailbox or "the OSC's mailbox"
    return (f"To limit the app to the sales team, in Exchange Online PowerShell run "
            f"New-ManagementRoleAssignment -App {app_id} -Role \"{need.exchange_role}\" "
            f"-CustomResourceScope \"{SCOPE_NAME}\" and make sure {target} is in that scope "
            f"(check: Test-ServicePrincipalAuthorization -Identity {app_id} -Resource "
            f"{target}); or, for every mailbox in the tenant, {entra}")


def explain(exc: GraphError, *, what: str, mailbox: str = "", app_id: str = "<app id>",
            roles: set[str] | None = None) -> str:
    """One line saying why Graph refused `what`, and how to fix it."""
    need = NEEDS.get(what)
    if exc.status == 401 or exc.code in ("invalid_client", "unauthorized_client"):
        return (f"Microsoft Entra refused the app's credentials ({exc.code}: {exc.message}); "
                "check GRAPH_CLIENT_ID, GRAPH_TENANT_ID and GRAPH_CLIENT_SECRET (client "
                "secrets expire: add a new one under Certificates & secrets)")
    if exc.status == 403 and need is not None:
        held = ", ".join(sorted((roles or set()) & {need.permission, *need.broader}))
        if held and need.refused_anyway:
            return (f"Graph refused although the app holds {held} (HTTP 403 "
                    f"{exc.code}): {need.refused_anyway}")
        if roles is not None and holds(roles, what) and need.exchange_role:
            step = admin_step(what, app_id=app_id, mailbox=mailbox)
            return (f"{need.permission} is granted but Exchange refused "
                    f"{mailbox or 'the mailbox'} (HTTP 403 {exc.code}): an application access "
                    f"policy or RBAC management scope leaves it out. {step}")
        if held:
            # Never tell an admin to grant what the token shows they granted.
            return (f"Graph refused although the app's token carries {held} "
                    f"(HTTP 403 {exc.code}); a consent granted minutes ago may not apply yet, "
                    "else check Conditional Access for workload identities in Entra")
        role = f" (or Exchange role \"{need.exchange_role}\")" if need.exchange_role else ""
        return (f"the app lacks the {need.permission} application permission{role} "
                f"(HTTP 403 {exc.code}){_not_enough(need, roles)}. "
                f"{admin_step(what, app_id=app_id, mailbox=mailbox)}")
    if exc.status == 404:
        thing = f"mailbox {mailbox}" if mailbox else "object"
        return (f"Graph has no such {thing} (HTTP 404 {exc.code}); check the address in "
                "app.yaml and that the user has an Exchange Online mailbox")
    if exc.status == 429:
        return f"throttled by Graph (HTTP 429; retry after {exc.retry_after:.0f} s)"
    if exc.transient:
        return f"Graph is unavailable ({exc})"
    return f"Graph refused {what} ({exc})"


def routing_error(exc: GraphError, *, what: str, doing: str, manual_step: str,
                  mailbox: str = "", app_id: str = "<app id>",
                  roles: set[str] | None = None) -> RoutingError:
    """A Graph failure while switching routing, as the engine's RoutingError."""
    return RoutingError(f"Microsoft Graph: {doing} failed: "
                        f"{explain(exc, what=what, mailbox=mailbox, app_id=app_id, roles=roles)}",
                        transient=exc.transient, retry_after=exc.retry_after,
                        manual_step=manual_step, not_found=exc.status == 404)


def write_problem(roles: set[str], *, what: str, app_id: str, mailbox: str = "") -> str | None:
    """Why the token does not prove the app may make the change `what` needs, or None."""
    need = NEEDS[what]
    if holds(roles, what):
        return None
    granted_elsewhere = (" (if you granted it with Exchange RBAC for Applications, confirm "
                         "with Test-ServicePrincipalAuthorization)" if need.exchange_role else "")
    return (f"the app's token does not carry {need.permission}{granted_elsewhere}"
            f"{_not_enough(need, roles)}. {admin_step(what, app_id=app_id, mailbox=mailbox)}")


def _not_enough(need: Need, roles: set[str] | None) -> str:
    held = sorted((roles or set()) & set(need.not_enough))
    if not held:
        return ""
    return (f"; {', '.join(held)}, which it holds, does not cover this call without a "
            "signed-in user")
