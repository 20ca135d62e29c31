"""Graph change notifications for Outlook calendars: subscriptions on each OSC's events,
renewed before they expire, and the notifications that sync one mailbox.

A subscription is kept in the OSC's calendar cursor (`graph_sub_*` keys) so it
survives restarts. Its `clientState` is a secret only Graph and oscbot know.

Graph posts notifications of several subscriptions in one batch, wants a 2xx within 3
seconds, and resends a batch that did not get one for up to 4 hours
(learn.microsoft.com/graph/change-notifications-delivery-webhooks). So a batch is read
item by item: genuine items (a subscription oscbot holds, with its clientState) are acted
on; an item of a subscription oscbot no longer holds (a person removed from the team, a
duplicate) is ignored and that subscription deleted; an item with a wrong clientState is
a forgery and ignored. The batch is refused only when nothing in it came from Graph.
Lifecycle notifications keep the flow alive: `reauthorizationRequired` renews the
subscription, `missed` runs a delta sync, `subscriptionRemoved` creates a new one.

Creating a subscription is not idempotent: when the answer to `POST /subscriptions` is
lost (a timeout), oscbot lists the app's subscriptions and adopts the one it asked for
before asking again, so Graph does not notify twice.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.calendar.sync import CalendarSyncService
from bot.errors import CalendarError
from bot.ports.calendars import CalendarSource
from bot.ports.clock import Clock
from calendars.outlook import OutlookCalendarSource
from m365.access import explain
from m365.graph import GraphClient, GraphError

log = logging.getLogger(__name__)
# Outlook event subscriptions live at most 10,080 minutes; ask for a little less.
LIFETIME = timedelta(minutes=10080) - timedelta(minutes=10)
RENEW_MARGIN = timedelta(hours=12)
NOTIFICATIONS_PATH = "/calendar/outlook/notifications"
LIFECYCLE_PATH = "/calendar/outlook/lifecycle"
LIFECYCLE_EVENTS = {"reauthorizationRequired", "missed", "subscriptionRemoved"}
# A subscription whose expiry is this close to a full lifetime away was created or renewed
# moments ago, maybe by another replica that has not stored it yet: never pruned.
FRESH = timedelta(minutes=15)
# Unknown subscriptions in notifications prune at most this often (the endpoint is public).
PRUNE_ON_NOTICE = timedelta(minutes=10)
PRUNE_ON_RENEWAL = timedelta(hours=1)


@dataclass(frozen=True)
class Subscription:
    """One Graph subscription on one OSC's calendar events."""

    osc_email: str
    id: str
    client_state: str
    expires_at: datetime

    def to_cursor(self) -> dict[str, str]:
        """The subscription as cursor entries."""
        return {"graph_sub_id": self.id, "graph_sub_state": self.client_state,
                "graph_sub_expires": self.expires_at.isoformat()}

    @classmethod
    def from_cursor(cls, osc_email: str, cursor: Mapping[str, str]) -> Subscription | None:
        """The subscription stored in a cursor, if any."""
        if not cursor.get("graph_sub_id"):
            return None
        return cls(osc_email, cursor["graph_sub_id"], cursor["graph_sub_state"],
                   datetime.fromisoformat(cursor["graph_sub_expires"]))


@dataclass(frozen=True)
class Notice:
    """One verified notification: whose mailbox, and what happened."""

    osc_email: str
    event: str  # "change" or a lifecycle event


@dataclass(frozen=True)
class Batch:
    """One notification POST read item by item."""

    notices: list[Notice] = field(default_factory=list)
    # Subscriptions Graph notified that oscbot does not hold (to delete).
    unknown: tuple[str, ...] = ()
    # Items naming a subscription oscbot holds with another clientState: not from Graph.
    forged: int = 0

    @property
    def accepted(self) -> bool:
        """Answer 2xx unless nothing in the batch came from Graph."""
        return bool(self.notices or self.unknown) or not self.forged


def read_batch(body: bytes, subscriptions: Mapping[str, Subscription]) -> Batch | None:
    """The items of a notification POST, sorted into genuine, unknown and forged; None
    when the body is not a notification collection at all.

    Genuine means: a subscription oscbot holds, with its clientState (compared in
    constant time).
    """
    try:
        items = json.loads(body)["value"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        return None
    notices, unknown, forged = [], [], 0
    for item in items:
        sub_id = str(item.get("subscriptionId", ""))
        sub = subscriptions.get(sub_id)
        if sub is None:
            if sub_id and sub_id not in unknown:
                unknown.append(sub_id)
            continue
        state = str(item.get("clientState", ""))
        if not hmac.compare_digest(state.encode(), sub.client_state.encode()):
            forged += 1
            continue
        event = str(item.get("lifecycleEvent") or "change")
        if event != "change" and event not in LIFECYCLE_EVENTS:
            continue  # a lifecycle event this version does not know: nothing to do
        notices.append(Notice(sub.osc_email, event))
    return Batch(notices, tuple(unknown), forged)


class OutlookSubscriptions:
    """Creates, renews and answers Graph subscriptions for every Outlook calendar (the
    `CalendarPush` of Outlook calendars)."""

    def __init__(self, *, calendars: CalendarSyncService, clock: Clock, public_url: str) -> None:
        self.sync = calendars
        self.clock = clock
        self.base = public_url.rstrip("/")
        self._pruned_at: datetime | None = None

    def sources(self) -> dict[str, OutlookCalendarSource]:
        """The OSCs whose calendar is in Outlook."""
        found: Mapping[str, CalendarSource] = self.sync.sources
        return {osc: s for osc, s in found.items() if isinstance(s, OutlookCalendarSource)}

    def held(self) -> dict[str, Subscription]:
        """Every subscription oscbot holds, by subscription id."""
        states = self.sync.states(list(self.sources()))
        held = {}
        for osc, state in states.items():
            sub = Subscription.from_cursor(osc, state.cursor)
            if sub is not None:
                held[sub.id] = sub
        return held

    def calendars(self) -> list[str]:
        """The OSCs whose calendar is in Outlook, in order."""
        return sorted(self.sources())

    def ensure(self, osc_email: str) -> tuple[int, list[str]]:
        """Create or renew one OSC's subscription where due: (changed, problems); at most
        hourly, also delete the subscriptions no calendar holds any more."""
        found = self.ensure_all({osc_email})
        self.prune_if_due(PRUNE_ON_RENEWAL)
        return found

    def ensure_all(self, oscs: Collection[str] | None = None) -> tuple[int, list[str]]:
        """Create missing subscriptions and renew those close to expiry, for every Outlook
        calendar or those of `oscs`; (changed, problems).

        One mailbox's failure is reported and the others go on.
        """
        by_osc = {s.osc_email: s for s in self.held().values()}
        now = self.clock.now()
        changed, problems = 0, []
        for osc in self.sources():
            if oscs is not None and osc not in oscs:
                continue
            current = by_osc.get(osc)
            if current is not None and current.expires_at - RENEW_MARGIN > now:
                continue
            try:
                self.renew(osc) if current is not None else self.create(osc)
            except CalendarError as exc:
                problems.append(str(exc))
                continue
            changed += 1
        return changed, problems

    def create(self, osc: str) -> Subscription:
        """A new subscription on the OSC's events (Graph validates both endpoints first)."""
        source = self.sources()[osc]
        state = secrets.token_urlsafe(32)
        expires = self.clock.now() + LIFETIME
        body = {"changeType": "created,updated,deleted",
                "notificationUrl": self.base + NOTIFICATIONS_PATH,
                "lifecycleNotificationUrl": self.base + LIFECYCLE_PATH,
                "resource": f"/users/{source.mailbox}/events",
                "expirationDateTime": _iso(expires), "clientState": state}
        try:
            try:
                answer = source.client.request("POST", "subscriptions", mailbox=source.mailbox,
                                               body=body) or {}
            except GraphError as exc:
                if not exc.maybe_applied:
                    raise
                # Graph may have created it: adopt it rather than subscribe twice.
                answer = _created(source.client, body, expires) or source.client.request(
                    "POST", "subscriptions", mailbox=source.mailbox, body=body) or {}
        except GraphError as exc:
            raise self._error(exc, source, "subscribe to") from None
        sub = Subscription(osc, str(answer["id"]), state, _expiry(answer, expires))
        self.sync.remember(osc, sub.to_cursor())
        return sub

    def renew(self, osc: str) -> Subscription:
        """Push the OSC's subscription's expiry out; a gone subscription is created anew."""
        source = self.sources()[osc]
        current = {s.osc_email: s for s in self.held().values()}.get(osc)
        if current is None:
            return self.create(osc)
        expires = self.clock.now() + LIFETIME
        try:
            answer = source.client.request("PATCH", f"subscriptions/{quote(current.id)}",
                                           mailbox=source.mailbox,
                                           body={"expirationDateTime": _iso(expires)}) or {}
        except GraphError as exc:
            if exc.status == 404:
                return self.create(osc)
            raise self._error(exc, source, "renew the subscription to") from None
        sub = Subscription(osc, current.id, current.client_state, _expiry(answer, expires))
        self.sync.remember(osc, sub.to_cursor())
        return sub

    def prune(self) -> int:
        """Delete the app's subscriptions at oscbot's notification URL that no calendar on
        the team holds (a person removed from the team, a duplicate); how many went."""
        sources = self.sources()
        if not sources:
            return 0
        client = next(iter(sources.values())).client
        held = set(self.held())
        now = self.clock.now()
        self._pruned_at = now
        url = self.base + NOTIFICATIONS_PATH
        stale = [str(sub["id"]) for sub in _listed(client)
                 if sub.get("notificationUrl") == url and str(sub.get("id")) not in held
                 and str(sub.get("resource", "")).lower().endswith("/events")
                 and _expiry(sub, now) - now < LIFETIME - FRESH]
        for sub_id in stale:
            try:
                client.request("DELETE", f"subscriptions/{quote(sub_id)}", mailbox="")
            except GraphError as exc:
                if exc.status != 404:
                    raise
        return len(stale)

    def prune_if_due(self, every: timedelta) -> int:
        """`prune` unless it ran less than `every` ago; failures are logged, never raised."""
        now = self.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < every:
            return 0
        try:
            return self.prune()
        except GraphError as exc:
            self._pruned_at = now
            log.warning("stale Outlook subscriptions could not be deleted (HTTP %s %s); "
                        "they expire within 7 days", exc.status, exc.code)
            return 0

    def handle(self, notices: Sequence[Notice], *, unknown: Sequence[str] = ()) -> None:
        """Act on verified notices: each mailbox synced once, subscriptions kept alive;
        subscriptions Graph notified that oscbot does not hold are deleted."""
        if unknown:
            self.prune_if_due(PRUNE_ON_NOTICE)
        synced: set[str] = set()
        for notice in notices:
            osc = notice.osc_email
            if osc not in self.sources():
                continue
            try:
                if notice.event == "reauthorizationRequired":
                    self.renew(osc)
                    continue
                if notice.event == "subscriptionRemoved":
                    self.create(osc)
            except CalendarError:
                # The message names the mailbox: keep it out of the logs; the drill tells.
                log.warning("an Outlook subscription could not be renewed after a lifecycle "
                            "notification; the hourly job retries")
                continue
            if osc not in synced:
                synced.add(osc)
                self.sync.sync_one(osc)

    def _error(self, exc: GraphError, source: OutlookCalendarSource, doing: str
               ) -> CalendarError:
        reason = explain(exc, what="calendar", mailbox=source.mailbox,
                         app_id=source.client.config.client_id)
        return CalendarError(f"cannot {doing} {source.mailbox}'s calendar changes: {reason}")


def _listed(client: GraphClient) -> list[dict[str, Any]]:
    """Every subscription the app created (List subscriptions, every page)."""
    return [sub for page in client.pages("subscriptions", mailbox="")
            for sub in page.get("value", [])]


def _created(client: GraphClient, body: Mapping[str, str], expires: datetime
             ) -> dict[str, Any] | None:
    """The subscription a POST whose answer was lost created, if Graph created it: the same
    resource, notification URL and expiry (Graph does not list clientState)."""
    for sub in _listed(client):
        if (str(sub.get("resource", "")).lower() == body["resource"].lower()
                and sub.get("notificationUrl") == body["notificationUrl"]
                and abs(_expiry(sub, expires + LIFETIME) - expires) < timedelta(seconds=1)):
            return sub
    return None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _expiry(answer: Mapping[str, object], asked: datetime) -> datetime:
    value = str(answer.get("expirationDateTime") or "")
    try:
        parsed = datetime.fromisoformat(value.removesuffix("Z")[:26])
    except ValueError:
        return asked
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
