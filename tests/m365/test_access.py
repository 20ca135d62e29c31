"""Graph's refusals in an admin's words: the permission each call needs (never one the
token already carries), and the group kinds that refuse even a granted permission."""

from __future__ import annotations

from m365.access import explain, write_problem
from m365.graph import GraphError

DENIED = GraphError(403, "Authorization_RequestDenied", "Insufficient privileges")


def test_a_missing_permission_is_named_with_where_to_grant_it() -> None:
    reason = explain(DENIED, what="users", roles={"User.ReadBasic.All"})
    assert reason.startswith("the app lacks the User.Read.All application permission")
    assert "User.ReadBasic.All, which it holds, does not cover" in reason
    assert "API permissions → Add a permission → Microsoft Graph → Application " \
           "permissions → User.Read.All, then Grant admin consent" in reason
    assert "Domain.Read.All" in explain(DENIED, what="domains", roles=set())


def test_a_refusal_never_asks_for_a_permission_the_token_carries() -> None:
    group = explain(DENIED, what="group members", roles={"GroupMember.ReadWrite.All"})
    assert "lacks" not in group and "although the app holds GroupMember.ReadWrite.All" in group
    assert "dynamic membership" in group and "role-assignable" in group
    users = explain(DENIED, what="users", roles={"Directory.Read.All"})
    assert "lacks" not in users and "token carries Directory.Read.All" in users
    assert write_problem({"Directory.Read.All"}, what="users", app_id="a") is None
    assert write_problem({"Group.ReadWrite.All"}, what="group members", app_id="a") is None
