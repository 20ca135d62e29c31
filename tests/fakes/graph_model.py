"""The fake Graph's directory and mailboxes: users (id, UPN, mail and aliases), groups with
their kind and replication delay, calendar events with a change log (for delta rounds),
automatic-reply settings, inbox rules, and the `$filter` clauses the directory answers."""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

# The application permissions docs/microsoft365.md asks an admin to grant.
ALL_ROLES = frozenset({"Calendars.Read", "MailboxSettings.Read", "MailboxSettings.ReadWrite",
                       "GroupMember.ReadWrite.All", "User.Read.All", "Domain.Read.All"})
# Application permissions each call accepts, from the "Permissions" table of its page in
# the Graph v1.0 reference. User.ReadBasic.All is in none of the user ones: without a
# signed-in user, reading a user takes User.Read.All or more.
CALENDAR = frozenset({"Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite"})
SETTINGS_READ = frozenset({"MailboxSettings.Read", "MailboxSettings.ReadWrite"})
SETTINGS_WRITE = frozenset({"MailboxSettings.ReadWrite"})
GROUP_READ = frozenset({"GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All",
                        "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
GROUP_WRITE = frozenset({"GroupMember.ReadWrite.All", "Group.ReadWrite.All",
                         "Directory.ReadWrite.All"})
USER_READ = frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
                       "Directory.ReadWrite.All"})
DOMAIN_READ = frozenset({"Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All",
                         "Directory.ReadWrite.All"})
MAX_SUBSCRIPTION = timedelta(minutes=10080)
# Query options calendarView delta refuses (event: delta, "OData query parameters"; the
# page size is the Prefer: odata.maxpagesize header, not $top).
NOT_ON_DELTA = ("$select", "$filter", "$orderby", "$expand", "$search", "$top", "$skip")


@dataclass
class User:
    """A directory user: `/users/{key}` finds it by id or userPrincipalName only; its
    mailbox answers to any of its SMTP addresses as well (Exchange resolves them)."""

    id: str
    upn: str
    mail: str | None
    aliases: tuple[str, ...] = ()

    def smtp(self) -> set[str]:
        """Every SMTP address of the user, lower case."""
        return {a.lower() for a in (self.mail, *self.aliases) if a}

    def proxy_addresses(self) -> list[str]:
        """`proxyAddresses` as Exchange writes them: SMTP: for the primary, smtp: others."""
        primary = [f"SMTP:{self.mail}"] if self.mail else []
        return primary + [f"smtp:{a}" for a in self.aliases]

    def json(self, select: set[str] | None) -> dict[str, Any]:
        """The user as Graph returns it (only `select` when given)."""
        full = {"@odata.type": "#microsoft.graph.user", "id": self.id,
                "userPrincipalName": self.upn, "mail": self.mail,
                "displayName": self.upn.split("@")[0],
                "proxyAddresses": self.proxy_addresses()}
        return _selected(full, select)


@dataclass
class Group:
    """A directory group: its kind decides whether Graph may change its members.

    Membership changes reach reads only `FakeGraph.replication_delay` after they were
    made, as directory replicas catch up (Get group: "This request might have replication
    delays for groups that were recently created, updated, or deleted").
    """

    id: str
    mail: str
    members: list[str] = field(default_factory=list)
    group_types: tuple[str, ...] = ("Unified",)
    security_enabled: bool = False
    mail_enabled: bool = True
    membership_rule: str | None = None
    on_premises_sync: bool = False
    # Graph's default for a group: new members do not get group mail in their inbox.
    auto_subscribe: bool = False
    aliases: tuple[str, ...] = ()
    changes: list[tuple[datetime, str, str]] = field(default_factory=list)

    @property
    def dynamic(self) -> bool:
        """Members come from a rule (groupTypes has DynamicMembership)."""
        return "DynamicMembership" in self.group_types

    @property
    def read_only(self) -> bool:
        """Mail-enabled security groups and distribution lists are read-only in Graph."""
        return self.mail_enabled and "Unified" not in self.group_types

    def visible(self, now: datetime, delay: timedelta) -> list[str]:
        """The members a read sees at `now`: changes younger than `delay` not yet there."""
        seen = list(self.members)
        for at, change, member in reversed(self.changes):
            if at + delay <= now:
                continue
            if change == "add" and member in seen:
                seen.remove(member)
            elif change == "remove" and member not in seen:
                seen.append(member)
        return seen

    def proxy_addresses(self) -> list[str]:
        """`proxyAddresses` as Exchange writes them."""
        return [f"SMTP:{self.mail}"] + [f"smtp:{a}" for a in self.aliases]

    def json(self, select: set[str] | None) -> dict[str, Any]:
        """The group as Graph returns it (only `select` when given)."""
        full = {"id": self.id, "mail": self.mail, "displayName": self.mail.split("@")[0],
                "groupTypes": list(self.group_types), "mailEnabled": self.mail_enabled,
                "securityEnabled": self.security_enabled,
                "membershipRule": self.membership_rule,
                "onPremisesSyncEnabled": True if self.on_premises_sync else None,
                "proxyAddresses": self.proxy_addresses()}
        if select and "autoSubscribeNewMembers" in select:
            full["autoSubscribeNewMembers"] = self.auto_subscribe
        return _selected(full, select)


def _selected(full: dict[str, Any], select: set[str] | None) -> dict[str, Any]:
    if not select:
        return {k: v for k, v in full.items() if k != "autoSubscribeNewMembers"}
    return {k: v for k, v in full.items() if k in select or k in ("id", "@odata.type")}


_EQ = re.compile(r"^(mail|userPrincipalName)\s+eq\s+'((?:[^']|'')*)'$", re.IGNORECASE)
_ANY = re.compile(r"^proxyAddresses/any\((\w+):\1\s+eq\s+'((?:[^']|'')*)'\)$",
                  re.IGNORECASE)
# Operators the directory answers only as advanced queries (ConsistencyLevel: eventual
# and $count=true): "Advanced query capabilities on Microsoft Entra ID objects".
_ADVANCED = re.compile(r"\b(endsWith|ne|not)\b", re.IGNORECASE)


def parse_filter(text: str) -> list[tuple[str, str]] | None:
    """`mail eq 'x' or proxyAddresses/any(p:p eq 'smtp:x') or userPrincipalName eq 'x'`
    as (property, value) clauses, any of which may match; None when not understood."""
    clauses = []
    for part in re.split(r"\s+or\s+", text.strip(), flags=re.IGNORECASE):
        part = re.sub(r"\s*([():])\s*", r"\1", part.strip())
        if (found := _EQ.match(part)) is not None:
            clauses.append((found.group(1).lower(), found.group(2).replace("''", "'")))
        elif (found := _ANY.match(part)) is not None:
            clauses.append(("proxyaddresses", found.group(2).replace("''", "'")))
        else:
            return None
    return clauses


def needs_advanced(text: str) -> bool:
    """True when a `$filter` uses an operator only advanced queries support."""
    return bool(_ADVANCED.search(re.sub(r"'(?:[^']|'')*'", "''", text)))


def matches(clauses: list[tuple[str, str]], *, mail: str | None, upn: str | None,
            proxies: list[str]) -> bool:
    """True when any clause matches (directory string comparisons ignore case)."""
    values = {"mail": (mail or "").lower(), "userprincipalname": (upn or "").lower()}
    lowered = {p.lower() for p in proxies}
    return any(value.lower() in lowered if field == "proxyaddresses"
               else values[field] == value.lower() for field, value in clauses)


def error(code: str, message: str) -> dict[str, Any]:
    """Graph's error body."""
    return {"error": {"code": code, "message": message,
                      "innerError": {"request-id": "00000000-fake", "date": "2026-11-28"}}}


def zone_of(name: str) -> ZoneInfo | None:
    """A Graph time-zone name (IANA or Windows) as a zone; None for a custom one."""
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def instant(value: dict[str, str]) -> datetime:
    """A Graph dateTimeTimeZone as a UTC instant."""
    local = datetime.fromisoformat(value["dateTime"][:26])
    zone = zone_of(value.get("timeZone", "UTC")) or UTC  # a custom zone: filtered as UTC
    return local.replace(tzinfo=zone).astimezone(UTC)


def in_window(event: dict[str, Any], start: datetime, end: datetime) -> bool:
    """True when the event overlaps [start, end)."""
    return instant(event["start"]) < end and instant(event["end"]) > start


def prefer_values(header: str) -> dict[str, str]:
    """`Prefer: odata.maxpagesize=2, outlook.timezone="UTC"` as a dict."""
    values = {}
    for part in header.split(","):
        if "=" in part:
            key, value = part.strip().split("=", 1)
            values[key.strip()] = value.strip().strip('"')
    return values


def as_utc(event: dict[str, Any]) -> dict[str, Any]:
    """The event with timed start/end in UTC, as `Prefer: outlook.timezone="UTC"` asks."""
    if event.get("isAllDay") or any(zone_of(event[k].get("timeZone", "UTC")) is None
                                    for k in ("start", "end")):
        return event
    shown = dict(event)
    for key in ("start", "end"):
        moment = instant(event[key])
        shown[key] = {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                      "timeZone": "UTC"}
    return shown


def encode(state: dict[str, Any]) -> str:
    """An opaque state token."""
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()


def decode(token: str) -> dict[str, Any]:
    """A state token back; ValueError when it is not one of ours."""
    state: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.encode()))
    return state


@dataclass
class Mailbox:
    """One user's mailbox."""

    address: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    forgotten_before: int = 0
    auto_replies: dict[str, Any] = field(default_factory=lambda: {
        "status": "disabled", "externalAudience": "all",
        "scheduledStartDateTime": {"dateTime": "2026-11-01T00:00:00.0000000", "timeZone": "UTC"},
        "scheduledEndDateTime": {"dateTime": "2026-11-02T00:00:00.0000000", "timeZone": "UTC"},
        "internalReplyMessage": "", "externalReplyMessage": ""})
    rules: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, event: dict[str, Any]) -> None:
        """Create or change an event (the next delta round reports it)."""
        with self.lock:
            self.events[event["id"]] = event
            self.changes.append(event["id"])

    def delete(self, event_id: str) -> None:
        """Delete an event (reported as `@removed`)."""
        with self.lock:
            self.events.pop(event_id)
            self.changes.append(event_id)

    def forget_sync_state(self) -> None:
        """Make every delta token issued so far unusable (Graph answers 410)."""
        with self.lock:
            self.forgotten_before = len(self.changes) + 1

    def delta(self, state: dict[str, Any], page_size: int, utc: bool
              ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any]]:
        """One page of a delta round: items, the next page's state, the round's end state."""
        start, end = datetime.fromisoformat(state["s"]), datetime.fromisoformat(state["e"])
        with self.lock:
            version = state.get("v")
            if version is None:
                items = [e for e in self.events.values() if in_window(e, start, end)]
            else:
                items = []
                for event_id in dict.fromkeys(reversed(self.changes[version:])):
                    event = self.events.get(event_id)
                    if event is not None and in_window(event, start, end):
                        items.append(event)
                    else:
                        items.append({"@odata.type": "#microsoft.graph.event", "id": event_id,
                                      "@removed": {"reason": "deleted"}})
            now_version = len(self.changes)
        items.sort(key=lambda e: e["id"])
        offset = int(state.get("o", 0))
        page = [as_utc(e) if utc and "@removed" not in e else e
                for e in items[offset:offset + page_size]]
        following = None
        if offset + page_size < len(items):
            following = dict(state, o=offset + page_size)
        return page, following, {"s": state["s"], "e": state["e"], "v": now_version,
                                 "mb": self.address}

    def rule(self, body: dict[str, Any], rule_id: str) -> dict[str, Any]:
        """A rule as Graph stores it."""
        stored = {"id": rule_id, "displayName": body.get("displayName", ""),
                  "sequence": int(body.get("sequence", 1)),
                  "isEnabled": bool(body.get("isEnabled", True)), "hasError": False,
                  "isReadOnly": False, "conditions": body.get("conditions", {}),
                  "actions": body.get("actions", {}), "exceptions": body.get("exceptions")}
        return stored


def window_of(query: dict[str, list[str]]) -> tuple[datetime, datetime] | None:
    """The calendarView window of a first delta request, or None when it is missing."""
    try:
        start = datetime.fromisoformat(query["startDateTime"][0].replace("Z", "+00:00"))
        end = datetime.fromisoformat(query["endDateTime"][0].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    if start.tzinfo is None:
        start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    return (start, end) if end > start and end - start <= timedelta(days=1830) else None
