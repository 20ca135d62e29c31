"""The fake Graph's endpoints: calendarView delta, automatic replies, inbox rules,
users, group members ($ref) and subscriptions."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlparse

from tests.fakes.graph_model import (
    CALENDAR,
    GROUP_READ,
    GROUP_WRITE,
    MAX_SUBSCRIPTION,
    SETTINGS_READ,
    SETTINGS_WRITE,
    USER_READ,
    decode,
    encode,
    error,
    prefer_values,
    window_of,
)

if TYPE_CHECKING:
    from tests.fakes.graph import FakeGraph

Answer = tuple[int, Any, dict[str, str]]
DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def route(fake: FakeGraph, method: str, parts: list[str], query: dict[str, list[str]],
          body: Any, headers: dict[str, str], token: str) -> Answer:
    """Dispatch one authenticated Graph request (`parts`: the path after /v1.0/)."""

    def denied() -> Answer:
        return 403, error(*DENIED), {}

    if parts[0] == "users" and len(parts) == 2 and method == "GET":
        if not fake._allowed(token, USER_READ, None):
            return denied()
        if parts[1].lower() not in fake.users:
            return _missing(f"Resource '{parts[1]}' does not exist or one of its queried "
                            "reference-property objects are not present.",
                            "Request_ResourceNotFound")
        return 200, {"id": fake.users[parts[1].lower()], "mail": parts[1].lower()}, {}
    if parts[0] == "users" and len(parts) >= 2:
        address = parts[1].lower()
        mailbox = fake.mailboxes.get(address)
        if mailbox is None:
            return _missing(f"The requested user '{parts[1]}' is invalid.", "ErrorInvalidUser")
        rest = parts[2:]
        if rest == ["calendarView", "delta"] and method == "GET":
            if not fake._allowed(token, CALENDAR, address):
                return denied()
            return _delta(fake, address, query, headers)
        if rest == ["mailboxSettings", "automaticRepliesSetting"] and method == "GET":
            if not fake._allowed(token, SETTINGS_READ, address):
                return denied()
            return 200, dict(mailbox.auto_replies), {}
        if rest[:3] == ["mailFolders", "inbox", "messageRules"]:
            needed = SETTINGS_READ if method == "GET" else SETTINGS_WRITE
            if not fake._allowed(token, needed, address):
                return denied()
            return _rules(fake, address, method, rest[3:], body)
    if parts[0] == "groups":
        needed = GROUP_READ if method == "GET" else GROUP_WRITE
        if not fake._allowed(token, needed, None):
            return 403, error("Authorization_RequestDenied",
                              "Insufficient privileges to complete the operation."), {}
        return _groups(fake, method, parts[1:], query, body)
    if parts[0] == "subscriptions":
        return _subscriptions(fake, method, parts[1:], body, token)
    return _missing("Resource not found for the segment.", "BadRequest")


def _missing(message: str, code: str = "ResourceNotFound") -> Answer:
    return 404, error(code, message), {}


def _bad(message: str, code: str = "BadRequest") -> Answer:
    return 400, error(code, message), {}


def _delta(fake: FakeGraph, address: str, query: dict[str, list[str]],
           headers: dict[str, str]) -> Answer:

    mailbox = fake.mailboxes[address]
    prefer = prefer_values(headers.get("prefer", ""))
    size = int(prefer.get("odata.maxpagesize", fake.page_size))
    utc = prefer.get("outlook.timezone") == "UTC"
    token = (query.get("$deltatoken") or query.get("$skiptoken") or [None])[0]
    if token is None:
        window = window_of(query)
        if window is None:
            return _bad("startDateTime and endDateTime are required and must be a valid "
                        "range.", "ErrorInvalidParameter")
        state: dict[str, Any] = {"s": window[0].isoformat(), "e": window[1].isoformat(),
                                 "mb": address}
    else:
        try:
            state = decode(token)
        except ValueError:
            return _bad("The sync state is invalid.", "SyncStateInvalid")
        if state.get("mb") != address:
            return _bad("The sync state is invalid.", "SyncStateInvalid")
        if state.get("v") is not None and state["v"] < mailbox.forgotten_before:
            return 410, error("SyncStateNotFound", "The sync state generation is not found. "
                              "The delta token is expired and data must be synchronized "
                              "again."), {}
    page, following, end_state = mailbox.delta(state, size, utc)
    base = f"{fake.base_url}/users/{address}/calendarView/delta"
    answer: dict[str, Any] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(event)",
        "value": page}
    if following is not None:
        answer["@odata.nextLink"] = f"{base}?{urlencode({'$skiptoken': encode(following)})}"
    else:
        answer["@odata.deltaLink"] = f"{base}?{urlencode({'$deltatoken': encode(end_state)})}"
    extra = {"Preference-Applied": 'outlook.timezone="UTC"'} if utc else {}
    return 200, answer, extra


def _rules(fake: FakeGraph, address: str, method: str, rest: list[str], body: Any) -> Answer:
    mailbox = fake.mailboxes[address]
    with mailbox.lock:
        if not rest and method == "GET":
            return 200, {"value": [dict(r) for r in mailbox.rules]}, {}
        if not rest and method == "POST":
            if not isinstance(body, dict) or not body.get("displayName"):
                return _bad("displayName is required.", "ErrorInvalidRequest")
            if "sequence" not in body:
                return _bad("sequence is required.", "ErrorInvalidRequest")
            created = mailbox.rule(body, f"AQAAA{secrets.token_hex(4)}=")
            mailbox.rules.append(created)
            return 201, dict(created), {}
        found = [r for r in mailbox.rules if rest and r["id"] == rest[0]]
        if not found:
            return _missing("The specified object was not found in the store.",
                            "ErrorItemNotFound")
        if method == "DELETE":
            mailbox.rules.remove(found[0])
            return 204, None, {}
        if method == "PATCH" and isinstance(body, dict):
            found[0].update(body)
            return 200, dict(found[0]), {}
        return 200, dict(found[0]), {}


def _groups(fake: FakeGraph, method: str, rest: list[str], query: dict[str, list[str]],
            body: Any) -> Answer:
    if not rest:
        wanted = query.get("$filter", [""])[0]  # mail eq 'leads@...'
        address = wanted.partition("'")[2].rstrip("'").lower()
        return 200, {"value": [_group_json(g) for g in fake.groups.values()
                               if g.mail == address]}, {}
    group = fake.groups.get(rest[0])
    if group is None:
        return _missing(f"Resource '{rest[0]}' does not exist or one of its queried reference-"
                        "property objects are not present.", "Request_ResourceNotFound")
    if len(rest) == 1 and method == "GET":
        return 200, _group_json(group), {}
    read_only = group.mail_enabled and "Unified" not in group.group_types
    by_id = {user_id: address for address, user_id in fake.users.items()}
    if rest[1:] == ["members"] and method == "GET":
        offset = int(query.get("$skiptoken", ["0"])[0])
        page = group.members[offset:offset + fake.page_size]
        answer: dict[str, Any] = {"value": [
            {"@odata.type": "#microsoft.graph.user", "id": m, "mail": by_id.get(m),
             "userPrincipalName": by_id.get(m)} for m in page]}
        if offset + fake.page_size < len(group.members):
            answer["@odata.nextLink"] = (f"{fake.base_url}/groups/{group.id}/members?"
                                         f"$skiptoken={offset + fake.page_size}")
        return 200, answer, {}
    if read_only and method in ("POST", "DELETE"):
        return _bad("Cannot Update a mail-enabled security groups and or distribution list.",
                    "Request_BadRequest")
    if rest[1:] == ["members", "$ref"] and method == "POST":
        reference = str((body or {}).get("@odata.id", ""))
        member = urlparse(reference).path.rsplit("/", 1)[-1]
        if member not in by_id:
            return _missing("Resource does not exist.", "Request_ResourceNotFound")
        if member in group.members:
            return _bad("One or more added object references already exist for the following "
                        "modified properties: 'members'.", "Request_BadRequest")
        group.members.append(member)
        return 204, None, {}
    if len(rest) == 4 and rest[1] == "members" and rest[3] == "$ref" and method == "DELETE":
        if rest[2] not in group.members:
            return _missing("Resource does not exist.", "Request_ResourceNotFound")
        group.members.remove(rest[2])
        return 204, None, {}
    return _bad("Unsupported group request.")


def _group_json(group: Any) -> dict[str, Any]:
    return {"id": group.id, "mail": group.mail, "displayName": group.mail.split("@")[0],
            "groupTypes": list(group.group_types), "mailEnabled": group.mail_enabled,
            "securityEnabled": group.security_enabled}


def _subscriptions(fake: FakeGraph, method: str, rest: list[str], body: Any,
                   token: str) -> Answer:

    if not rest and method == "POST":
        body = body if isinstance(body, dict) else {}
        resource = str(body.get("resource", ""))
        pieces = resource.strip("/").split("/")
        if len(pieces) != 3 or pieces[0].lower() != "users" or pieces[2].lower() != "events":
            return _bad(f"Unsupported resource '{resource}'.", "InvalidRequest")
        address = pieces[1].lower()
        if address not in fake.mailboxes:
            return _missing(f"The requested user '{pieces[1]}' is invalid.", "ErrorInvalidUser")
        if not fake._allowed(token, CALENDAR, address):
            return 403, {"error": {"code": "ExtensionError",
                                   "message": "Operation: Create; Exception: [Status Code: "
                                              "Forbidden; Reason: Access is denied.]"}}, {}
        problem = _subscription_problem(fake, body)
        if problem:
            return _bad(problem, "InvalidRequest")
        for url in (body["notificationUrl"], body.get("lifecycleNotificationUrl")):
            if url and not fake._handshake(url):
                return _bad("Subscription validation request failed. Notification endpoint "
                            "must respond with 200 OK to validation request.", "InvalidRequest")
        created = dict(body, id=f"sub-{secrets.token_hex(6)}", _user=fake.users[address],
                       applicationId="0a1b2c3d-oscbot", creatorId="sp-oscbot")
        fake.subscriptions[created["id"]] = created
        return 201, {k: v for k, v in created.items() if not k.startswith("_")}, {}
    sub = fake.subscriptions.get(rest[0]) if rest else None
    if sub is None:
        return _missing(f"The object '{rest[0] if rest else ''}' doesn't exist.")
    if method == "PATCH":
        expiry = str((body or {}).get("expirationDateTime", ""))
        if problem := _expiry_problem(fake, expiry, MAX_SUBSCRIPTION):
            return _bad(problem, "InvalidRequest")
        sub["expirationDateTime"] = expiry
        return 200, {k: v for k, v in sub.items() if not k.startswith("_")}, {}
    if method == "DELETE":
        fake.subscriptions.pop(rest[0])
        return 204, None, {}
    return 200, {k: v for k, v in sub.items() if not k.startswith("_")}, {}


def _subscription_problem(fake: FakeGraph, body: dict[str, Any]) -> str:

    for key in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if not body.get(key):
            return f"{key} is required."
    for key in ("notificationUrl", "lifecycleNotificationUrl"):
        url = urlparse(str(body.get(key) or "https://x"))
        if url.scheme != "https" and url.hostname != "127.0.0.1":
            return f"{key} must be an https URL."
    if len(str(body.get("clientState", ""))) > 128:
        return "clientState must be at most 128 characters."
    return _expiry_problem(fake, str(body["expirationDateTime"]), MAX_SUBSCRIPTION)


def _expiry_problem(fake: FakeGraph, expiry: str, limit: Any) -> str:
    try:
        when = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
    except ValueError:
        return "expirationDateTime is not a valid date."
    if when <= fake.now():
        return "Subscription expiration can only be in the future."
    if when - fake.now() > limit:
        return ("Subscription expiration can only be 10080 minutes in the future.")
    return ""
