"""The fake Graph's endpoints: users and domains, calendarView delta, automatic replies,
inbox rules, groups and their members ($ref), and subscriptions; each call checks the
application permission its page in the Graph reference lists."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlparse

from tests.fakes.graph_model import (
    CALENDAR,
    DOMAIN_READ,
    GROUP_READ,
    GROUP_WRITE,
    MAX_SUBSCRIPTION,
    NOT_ON_DELTA,
    SETTINGS_READ,
    SETTINGS_WRITE,
    USER_READ,
    Group,
    decode,
    encode,
    error,
    matches,
    needs_advanced,
    parse_filter,
    prefer_values,
    window_of,
)

if TYPE_CHECKING:
    from tests.fakes.graph import FakeGraph

Answer = tuple[int, Any, dict[str, str]]
DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
DIRECTORY_DENIED = ("Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.")


def route(fake: FakeGraph, method: str, parts: list[str], query: dict[str, list[str]],
          body: Any, headers: dict[str, str], token: str) -> Answer:
    """Dispatch one authenticated Graph request (`parts`: the path after /v1.0/)."""

    def allowed(needed: frozenset[str], mailbox: str | None = None) -> bool:
        return fake._allowed(token, needed, mailbox)

    if parts[0] == "users" and len(parts) == 1 and method == "GET":
        if not allowed(USER_READ):
            return 403, error(*DIRECTORY_DENIED), {}
        return _users(fake, query, headers)
    if parts[0] == "users" and len(parts) == 2 and method == "GET":
        if not allowed(USER_READ):
            return 403, error(*DIRECTORY_DENIED), {}
        # GET /users/{id | userPrincipalName}: a mail address or alias is not a key.
        user = fake.find_user(parts[1])
        if user is None:
            return _missing(f"Resource '{parts[1]}' does not exist or one of its queried "
                            "reference-property objects are not present.",
                            "Request_ResourceNotFound")
        return 200, user.json(_select(query)), {}
    if parts[0] == "users" and len(parts) >= 2:
        address = fake.mailbox_for(parts[1])
        if address is None:
            return _missing(f"The requested user '{parts[1]}' is invalid.", "ErrorInvalidUser")
        rest = parts[2:]
        if rest == ["calendarView", "delta"] and method == "GET":
            if not allowed(CALENDAR, address):
                return 403, error(*DENIED), {}
            return _delta(fake, address, query, headers)
        if rest == ["mailboxSettings", "automaticRepliesSetting"] and method == "GET":
            if not allowed(SETTINGS_READ, address):
                return 403, error(*DENIED), {}
            return 200, dict(fake.mailboxes[address].auto_replies), {}
        if rest[:3] == ["mailFolders", "inbox", "messageRules"]:
            if not allowed(SETTINGS_READ if method == "GET" else SETTINGS_WRITE, address):
                return 403, error(*DENIED), {}
            return _rules(fake, address, method, rest[3:], body)
    if parts[0] == "groups":
        if not allowed(GROUP_READ if method == "GET" else GROUP_WRITE):
            return 403, error(*DIRECTORY_DENIED), {}
        return _groups(fake, method, parts[1:], query, body, headers, token)
    if parts == ["domains"] and method == "GET":
        if not allowed(DOMAIN_READ):
            return 403, error(*DIRECTORY_DENIED), {}
        return 200, {"value": fake.domain_list()}, {}
    if parts[0] == "subscriptions":
        return _subscriptions(fake, method, parts[1:], query, body, token)
    return _missing("Resource not found for the segment.", "BadRequest")


def _missing(message: str, code: str = "ResourceNotFound") -> Answer:
    return 404, error(code, message), {}


def _bad(message: str, code: str = "BadRequest") -> Answer:
    return 400, error(code, message), {}


def _select(query: dict[str, list[str]]) -> set[str] | None:
    chosen = query.get("$select", [""])[0]
    return {s.strip() for s in chosen.split(",") if s.strip()} or None


def _advanced(query: dict[str, list[str]], headers: dict[str, str]) -> bool:
    """ConsistencyLevel: eventual and $count=true, the advanced query parameters."""
    return (headers.get("consistencylevel", "").lower() == "eventual"
            and query.get("$count", [""])[0].lower() == "true")


def _filtered(query: dict[str, list[str]], headers: dict[str, str]
              ) -> list[tuple[str, str]] | Answer:
    text = query.get("$filter", [""])[0]
    if needs_advanced(text) and not _advanced(query, headers):
        return _bad("Unsupported or invalid query filter clause specified for this "
                    "resource.", "Request_UnsupportedQuery")
    clauses = parse_filter(text)
    if clauses is None:
        return _bad(f"Invalid filter clause: {text}", "Request_UnsupportedQuery")
    return clauses


def _users(fake: FakeGraph, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
    clauses = _filtered(query, headers)
    if isinstance(clauses, tuple):
        return clauses
    found = [u.json(_select(query)) for u in fake.directory.values()
             if matches(clauses, mail=u.mail, upn=u.upn, proxies=u.proxy_addresses())]
    answer: dict[str, Any] = {"value": found}
    if _advanced(query, headers):
        answer["@odata.count"] = len(found)  # without the header $count is ignored
    return 200, answer, {}


def _delta(fake: FakeGraph, address: str, query: dict[str, list[str]],
           headers: dict[str, str]) -> Answer:
    refused = [name for name in NOT_ON_DELTA if name in query]
    if refused:
        return _bad(f"The query parameter '{refused[0]}' is not supported with change "
                    "tracking over the 'CalendarView' resource.", "ErrorInvalidUrlQuery")
    mailbox = fake.mailboxes[address]
    prefer = prefer_values(headers.get("prefer", ""))
    size = int(prefer.get("odata.maxpagesize", fake.page_size))
    utc = prefer.get("outlook.timezone") == "UTC"
    token = next(iter(query.get("$deltatoken") or query.get("$skiptoken") or []), None)
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
            # Create rule: displayName, sequence and actions are required.
            if not isinstance(body, dict) or not body.get("displayName"):
                return _bad("displayName is required.", "ErrorInvalidRequest")
            if "sequence" not in body:
                return _bad("sequence is required.", "ErrorInvalidRequest")
            if not isinstance(body.get("actions"), dict) or not body["actions"]:
                return _bad("actions is required.", "ErrorInvalidRequest")
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
            body: Any, headers: dict[str, str], token: str) -> Answer:
    select = _select(query)
    if not rest:
        if select and "autoSubscribeNewMembers" in select:
            # Group resource: "Supported only on the Get group API (GET /groups/{ID})".
            return _bad("autoSubscribeNewMembers can be selected only when getting one "
                        "group.", "Request_BadRequest")
        clauses = _filtered(query, headers)
        if isinstance(clauses, tuple):
            return clauses
        return 200, {"value": [g.json(select) for g in fake.groups.values() if matches(
            clauses, mail=g.mail, upn=None, proxies=g.proxy_addresses())]}, {}
    group = fake.groups.get(rest[0])
    if group is None:
        return _missing(f"Resource '{rest[0]}' does not exist or one of its queried reference-"
                        "property objects are not present.", "Request_ResourceNotFound")
    if len(rest) == 1 and method == "GET":
        if (select and "autoSubscribeNewMembers" in select
                and not fake.app_reads_group_subscription):
            return 403, error("ErrorGroupsAccessDenied",
                              "User does not have permissions to execute this action."), {}
        return 200, group.json(select), {}
    if rest[1:] == ["members"] and method == "GET":
        return _members(fake, group, query, token)
    if method in ("POST", "DELETE"):
        refused = _unchangeable(group)
        if refused is not None:
            return refused
    if rest[1:] == ["members", "$ref"] and method == "POST":
        reference = str((body or {}).get("@odata.id", ""))
        member = urlparse(reference).path.rsplit("/", 1)[-1]
        if member not in fake.directory:
            return _missing("Resource does not exist.", "Request_ResourceNotFound")
        if member in group.members:
            return _bad("One or more added object references already exist for the following "
                        "modified properties: 'members'.", "Request_BadRequest")
        group.members.append(member)
        group.changes.append((fake.now(), "add", member))
        return 204, None, {}
    if len(rest) == 4 and rest[1] == "members" and rest[3] == "$ref" and method == "DELETE":
        if rest[2] not in group.members:
            return _missing("Resource does not exist.", "Request_ResourceNotFound")
        group.members.remove(rest[2])
        group.changes.append((fake.now(), "remove", rest[2]))
        return 204, None, {}
    return _bad("Unsupported group request.")


def _unchangeable(group: Group) -> Answer | None:
    """Groups whose members Graph cannot change, answered as Graph answers."""
    if group.read_only:
        return _bad("Cannot Update a mail-enabled security groups and or distribution list.",
                    "Request_BadRequest")
    if group.on_premises_sync:
        return _bad("Unable to update the specified properties for on-premises mastered "
                    "Directory Sync objects or objects currently undergoing migration.",
                    "Request_BadRequest")
    if group.dynamic:
        # Microsoft's troubleshooting article for Authorization_RequestDenied when adding a
        # member: Graph cannot manage the membership of a dynamic group.
        return 403, error(*DIRECTORY_DENIED), {}
    return None


def _members(fake: FakeGraph, group: Group, query: dict[str, list[str]], token: str
             ) -> Answer:
    select = _select(query)
    # Limited information for inaccessible member objects: without a permission to read
    # users, members come back with their type and id only (group-list-members).
    readable = fake._allowed(token, USER_READ, None)
    visible = group.visible(fake.now(), fake.replication_delay)
    offset = int(query.get("$skiptoken", ["0"])[0])
    page = visible[offset:offset + fake.page_size]
    value = []
    for member in page:
        user = fake.directory.get(member)
        if user is not None and readable:
            value.append(user.json(select))
        else:
            value.append({"@odata.type": "#microsoft.graph.user", "id": member,
                          **{k: None for k in (select or set()) if k != "id"}})
    answer: dict[str, Any] = {"value": value}
    if offset + fake.page_size < len(visible):
        answer["@odata.nextLink"] = (f"{fake.base_url}/groups/{group.id}/members?"
                                     f"{urlencode({'$skiptoken': offset + fake.page_size})}")
    return 200, answer, {}


def _public(sub: dict[str, Any], *, listed: bool = False) -> dict[str, Any]:
    shown = {k: v for k, v in sub.items() if not k.startswith("_")}
    if listed:
        shown["clientState"] = None  # "not returned for security purposes"
    return shown


def _subscriptions(fake: FakeGraph, method: str, rest: list[str],
                   query: dict[str, list[str]], body: Any, token: str) -> Answer:

    def events_allowed(sub: dict[str, Any]) -> bool:
        return fake._allowed(token, CALENDAR, sub.get("_mailbox"))

    if not rest and method == "POST":
        body = body if isinstance(body, dict) else {}
        resource = str(body.get("resource", ""))
        pieces = resource.strip("/").split("/")
        if len(pieces) != 3 or pieces[0].lower() != "users" or pieces[2].lower() != "events":
            return _bad(f"Unsupported resource '{resource}'.", "InvalidRequest")
        address = fake.mailbox_for(pieces[1])
        if address is None:
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
        user = fake.find_user(address, smtp=True)
        created = dict(body, id=f"sub-{secrets.token_hex(6)}", _mailbox=address,
                       _user=user.id if user else address,
                       applicationId="0a1b2c3d-oscbot", creatorId="sp-oscbot")
        fake.subscriptions[created["id"]] = created
        return 201, _public(created), {}
    if not rest and method == "GET":
        # List subscriptions: an app sees the subscriptions it created, for any user, when
        # it holds the permission that created them; clientState is never returned.
        mine = [s for s in fake.subscriptions.values() if events_allowed(s)]
        offset = int(query.get("$skiptoken", ["0"])[0])
        answer: dict[str, Any] = {"value": [_public(s, listed=True) for s in
                                            mine[offset:offset + fake.page_size]]}
        if offset + fake.page_size < len(mine):
            answer["@odata.nextLink"] = (f"{fake.base_url}/subscriptions?"
                                         f"{urlencode({'$skiptoken': offset + fake.page_size})}")
        return 200, answer, {}
    sub = fake.subscriptions.get(rest[0]) if rest else None
    if sub is None:
        return _missing(f"The object '{rest[0] if rest else ''}' doesn't exist.")
    if not events_allowed(sub):
        return 403, error(*DENIED), {}
    if method == "PATCH":
        expiry = str((body or {}).get("expirationDateTime", ""))
        if problem := _expiry_problem(fake, expiry, MAX_SUBSCRIPTION):
            return _bad(problem, "InvalidRequest")
        sub["expirationDateTime"] = expiry
        return 200, _public(sub), {}
    if method == "DELETE":
        fake.subscriptions.pop(rest[0])
        return 204, None, {}
    return 200, _public(sub), {}


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
