"""A local fake of the Admin SDK Directory API's group members, strict where Google is
(https://developers.google.com/admin-sdk/directory/reference/rest/v1/members, and the
discovery document google-api-python-client ships):

- the admin's access token;
- `members.list` pages at most 200 members (`maxResults` above 200 is refused);
- a member may be a whole customer (`type: CUSTOMER`, an id and no email);
- inserting a member who is already in the group (by address or by an alias of it)
  answers 409 `duplicate`; a role must be OWNER, MANAGER or MEMBER;
- deleting someone who is not a member answers 404.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import unquote

from tests.routing.fake_vendor import FakeVendor, Reply, Request

ROLES = ("OWNER", "MANAGER", "MEMBER")


def google_error(status: int, reason: str, message: str) -> Reply:
    """An error in Google's JSON shape."""
    return Reply(status, {"error": {"code": status, "message": message, "errors": [
        {"message": message, "domain": "global", "reason": reason}]}})


class FakeGoogleAdmin(FakeVendor):
    """Groups by address, each a list of member resources."""

    def __init__(self, *, token: str) -> None:
        self.token = token
        self.groups: dict[str, list[dict[str, Any]]] = {}
        self.aliases: dict[str, str] = {}  # alias -> primary address
        self._ids = itertools.count(100)
        super().__init__()

    def add(self, group: str, email: str, role: str = "MEMBER") -> None:
        """Put a user in a group."""
        self.groups.setdefault(group, []).append(self._member(email, role))

    def add_customer(self, group: str) -> None:
        """Put the whole organisation in a group (a member without an email)."""
        self.groups.setdefault(group, []).append({
            "kind": "admin#directory#member", "id": "C01abcde", "role": "MEMBER",
            "type": "CUSTOMER", "status": "ACTIVE"})

    def roles(self, group: str) -> dict[str, str]:
        """Each member's role, by email (or id for a customer)."""
        return {m.get("email") or m["id"]: m["role"] for m in self.groups[group]}

    def _member(self, email: str, role: str) -> dict[str, Any]:
        return {"kind": "admin#directory#member", "id": str(next(self._ids)),
                "email": email, "role": role, "type": "USER", "status": "ACTIVE"}

    def _primary(self, address: str) -> str:
        return self.aliases.get(address.lower(), address.lower())

    def answer(self, request: Request) -> Reply:
        """The Directory API's answer."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return google_error(401, "authError", "Invalid Credentials")
        # /admin/directory/v1/groups/GROUP/members[/MEMBER]
        parts = [unquote(p) for p in request.path.split("/")]
        if len(parts) < 7 or parts[:5] != ["", "admin", "directory", "v1", "groups"] or (
                parts[6] != "members"):
            return google_error(404, "notFound", "Not Found")
        members = self.groups.get(parts[5])
        if members is None:
            return google_error(404, "notFound", "Resource Not Found: groupKey")
        if len(parts) == 7 and request.method == "GET":
            return self._list(members, request.query)
        if len(parts) == 7 and request.method == "POST":
            return self._insert(members, request.body or {})
        if len(parts) == 8 and request.method == "DELETE":
            key = self._primary(parts[7])
            found = [m for m in members if key in (m.get("email", "").lower(), m["id"])]
            if not found:
                return google_error(404, "notFound", "Resource Not Found: memberKey")
            members.remove(found[0])
            return Reply(204)
        return google_error(405, "methodNotAllowed", "Method not allowed")

    def _list(self, members: list[dict[str, Any]], query: dict[str, list[str]]) -> Reply:
        size = int(query.get("maxResults", ["200"])[0])
        if not 1 <= size <= 200:
            return google_error(400, "invalid", "Invalid Input: maxResults")
        start = int(query.get("pageToken", ["0"])[0] or 0)
        page = members[start:start + size]
        answer: dict[str, Any] = {"kind": "admin#directory#members", "etag": '"e"'}
        if page:
            answer["members"] = page
        if start + size < len(members):
            answer["nextPageToken"] = str(start + size)
        return Reply(200, answer)

    def _insert(self, members: list[dict[str, Any]], body: dict[str, Any]) -> Reply:
        email, role = str(body.get("email", "")), str(body.get("role", "MEMBER"))
        if not email:
            return google_error(400, "required", "Missing required field: memberKey")
        if role not in ROLES:
            return google_error(400, "invalid", "Invalid Input: role")
        if any(self._primary(email) == self._primary(m.get("email", "")) for m in members):
            return google_error(409, "duplicate", "Member already exists.")
        member = self._member(email, role)
        members.append(member)
        return Reply(200, member)
