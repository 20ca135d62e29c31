"""Outlook (Exchange Online) calendars as a `CalendarSource`, read through Microsoft Graph.

Incremental: the first read runs a `calendarView/delta` round over a padded window and
keeps a compact copy of every occurrence plus the `@odata.deltaLink` in the cursor;
later reads follow the delta link and apply only what changed (`@removed` entries drop
an occurrence, updates may carry only the changed properties). A delta link Graph has
forgotten (410 Gone, syncStateNotFound) starts a full round again, and so does the
window running out or a day passing, so the window rolls forward with time.

Besides events, `automaticRepliesSetting` with status `scheduled` is an out-of-office
absence for its window; it is re-read every few minutes (Graph has no delta for it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from bot.calendar.absences import CalendarEvent, absences_from_events
from bot.config.model import Policies
from bot.errors import CalendarError
from bot.model import SkippedEvent
from bot.ports.calendars import CalendarRead
from m365.access import explain
from m365.graph import GraphClient, GraphError

if TYPE_CHECKING:
    from calendars.registry import CalendarSetup

PAGE_SIZE = 100
AUTO_REPLY_UID = "automatic-replies"
# Only what the absence rules need is kept: the cursor holds every occurrence.
KEPT = ("subject", "bodyPreview", "start", "end", "isAllDay", "showAs", "categories",
        "isCancelled", "type")


def graph_zone(name: str, fallback: ZoneInfo) -> ZoneInfo:
    """A Graph time-zone name (IANA, Windows or UTC) as a zone; `fallback` when unknown."""
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name)) if name else fallback
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def _moment(value: dict[str, str], zone: ZoneInfo) -> datetime:
    local = datetime.fromisoformat(value["dateTime"][:26])
    return local.replace(tzinfo=graph_zone(value.get("timeZone", "UTC"), zone))


def _day(value: dict[str, str], zone: ZoneInfo) -> datetime:
    """An all-day boundary: its date at midnight in the person's own zone."""
    moment = _moment(value, zone)
    day: date = moment.date() if moment.time() == datetime.min.time() else (
        moment.astimezone(zone).date())
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def to_event(item: dict[str, Any], zone: ZoneInfo) -> CalendarEvent | None:
    """A compact Graph event as a neutral event (None without a usable start and end)."""
    if not item.get("start") or not item.get("end") or item.get("type") == "seriesMaster":
        return None
    all_day = bool(item.get("isAllDay"))
    convert = _day if all_day else _moment
    return CalendarEvent(
        uid=item["id"], summary=str(item.get("subject") or ""),
        description=str(item.get("bodyPreview") or ""),
        start=convert(item["start"], zone).astimezone(UTC),
        end=convert(item["end"], zone).astimezone(UTC), all_day=all_day,
        categories=tuple(str(c) for c in item.get("categories") or ()),
        status="CANCELLED" if item.get("isCancelled") else "CONFIRMED",
        busy_status=str(item.get("showAs") or ""),
        transparent=item.get("showAs") == "free")


def auto_reply_event(setting: dict[str, Any], zone: ZoneInfo) -> CalendarEvent | None:
    """A scheduled automatic reply as an out-of-office event; None unless scheduled."""
    if not _scheduled(setting):
        return None
    try:
        start = _moment(setting["scheduledStartDateTime"], zone).astimezone(UTC)
        end = _moment(setting["scheduledEndDateTime"], zone).astimezone(UTC)
    except (KeyError, ValueError, TypeError):
        return None
    return CalendarEvent(uid=AUTO_REPLY_UID, summary="Automatic replies (out of office)",
                         start=start, end=end, all_day=False, busy_status="oof")


class OutlookCalendarSource:
    """One OSC's Outlook calendar and automatic replies, read as the app (client credentials)."""

    def __init__(self, *, client: GraphClient, mailbox: str, time_zone: str,
                 policies: Policies, page_size: int = PAGE_SIZE,
                 fresh_every: timedelta = timedelta(days=1),
                 window_ahead: timedelta = timedelta(days=120),
                 auto_reply_every: timedelta = timedelta(minutes=15)) -> None:
        self.client = client
        self.mailbox = mailbox.lower()
        self.zone = ZoneInfo(time_zone)
        self.policies = policies
        self.page_size = page_size
        self.fresh_every = fresh_every
        self.window_ahead = window_ahead
        self.auto_reply_every = auto_reply_every
        self._user = f"users/{quote(self.mailbox)}"

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """Absences overlapping `[start, end)`; `unchanged=True` when nothing changed."""
        events: dict[str, dict[str, Any]] = json.loads(cursor.get("outlook_events", "{}"))
        link = cursor.get("outlook_delta", "")
        window_end = _parse(cursor.get("outlook_window_end"))
        fresh_at = _parse(cursor.get("outlook_fresh_at"))
        stale_window = (window_end is None or end > window_end or fresh_at is None
                        or start - fresh_at >= self.fresh_every)
        changed = False
        try:
            if link and not stale_window:
                try:
                    items, link = self._round(link, None)
                    changed = _apply(events, items)
                except GraphError as exc:
                    if not exc.needs_resync:
                        raise
                    link = ""
            if not link or stale_window:
                window_start = start - self.policies.long_term_after
                window_end = end + self.window_ahead
                items, link = self._round("calendarView/delta", {
                    "startDateTime": _iso(window_start), "endDateTime": _iso(window_end)})
                fresh = {i["id"]: _compact(i) for i in items if "@removed" not in i}
                changed = fresh != events or not cursor.get("outlook_delta")
                events, fresh_at = fresh, start
        except GraphError as exc:
            raise self._error(exc, "calendar") from None
        auto = cursor.get("outlook_auto_reply", "")
        auto_at = _parse(cursor.get("outlook_auto_reply_at"))
        if auto_at is None or start - auto_at >= self.auto_reply_every:
            try:
                latest = json.dumps(self._auto_reply(), sort_keys=True)
            except GraphError as exc:
                raise self._error(exc, "automatic replies") from None
            changed = changed or latest != auto
            auto, auto_at = latest, start
        new_cursor = {"outlook_delta": link, "outlook_events": json.dumps(events, sort_keys=True),
                      "outlook_window_end": _iso(window_end) if window_end else "",
                      "outlook_fresh_at": _iso(fresh_at) if fresh_at else "",
                      "outlook_auto_reply": auto, "outlook_auto_reply_at": _iso(auto_at)}
        # Occurrences held, so a calendar that suddenly reads empty is noticed as suspect.
        count = len(events) + int(_scheduled(json.loads(auto or "{}")))
        if not changed:
            return CalendarRead(absences=(), unchanged=True, cursor=new_cursor,
                                event_count=count)
        neutral = [e for e in (to_event(i, self.zone) for i in events.values()) if e]
        reply = auto_reply_event(json.loads(auto or "{}"), self.zone)
        if reply is not None:
            neutral.append(reply)
        absences, skipped = absences_from_events(neutral, policies=self.policies)
        return CalendarRead(absences=tuple(a for a in absences if a.overlaps(start, end)),
                            skipped=tuple(skipped), cursor=new_cursor, event_count=count,
                            warnings=tuple(_zone_warnings(events.values(), self.zone)))

    def check(self, *, now: datetime) -> list[str]:
        """Read-only rehearsal: the app can read this calendar and its automatic replies."""
        problems = []
        window = {"startDateTime": _iso(now), "endDateTime": _iso(now + timedelta(days=1))}
        calls: tuple[tuple[str, Callable[[], object]], ...] = (
            ("calendar", lambda: self.client.get(
                f"{self._user}/calendarView/delta", mailbox=self.mailbox, params=window,
                prefer=("odata.maxpagesize=1",))),
            ("automatic replies", self._auto_reply))
        for what, call in calls:
            try:
                call()
            except GraphError as exc:
                problems.append(str(self._error(exc, what, roles=self._roles())))
        return problems

    def _error(self, exc: GraphError, what: str, roles: set[str] | None = None
               ) -> CalendarError:
        reason = explain(exc, what=what, mailbox=self.mailbox,
                         app_id=self.client.config.client_id, roles=roles)
        return CalendarError(f"cannot read {self.mailbox}'s Outlook {what}: {reason}")

    def _roles(self) -> set[str] | None:
        try:
            return self.client.roles()
        except GraphError:
            return None

    def _round(self, path: str, params: dict[str, str] | None
               ) -> tuple[list[dict[str, Any]], str]:
        """One delta round (every page); its items and the new delta link."""
        items: list[dict[str, Any]] = []
        url = path if "://" in path else f"{self._user}/{path}"
        prefer = (f"odata.maxpagesize={self.page_size}", 'outlook.timezone="UTC"')
        link = ""
        for page in self.client.pages(url, mailbox=self.mailbox, params=params, prefer=prefer):
            items.extend(page.get("value", []))
            link = str(page.get("@odata.deltaLink", ""))
        if not link:
            raise GraphError(502, "noDeltaLink", "the delta round ended without a delta link",
                             transient=True)
        return items, link

    def _auto_reply(self) -> dict[str, Any]:
        setting = self.client.get(f"{self._user}/mailboxSettings/automaticRepliesSetting",
                                  mailbox=self.mailbox)
        return {k: setting.get(k) for k in ("status", "scheduledStartDateTime",
                                            "scheduledEndDateTime")}


def _scheduled(setting: dict[str, Any]) -> bool:
    # Enum values are camelCase in Graph's JSON ("scheduled"), but Exchange writes the
    # same setting as "Scheduled" (Set-MailboxAutoReplyConfiguration): compare ignoring case.
    return str(setting.get("status") or "").lower() == "scheduled"


def _zone_warnings(events: Iterable[dict[str, Any]], zone: ZoneInfo) -> Iterator[SkippedEvent]:
    """Events whose time-zone name is unknown (read in the person's zone instead)."""
    for event in events:
        for name in sorted({str(event.get(k, {}).get("timeZone", "")) for k in ("start", "end")}):
            if name and not _known(name):
                yield SkippedEvent(event["id"], f"unknown time zone {name!r}; read in "
                                                f"{zone.key}")


def _known(name: str) -> bool:
    try:
        ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], **{k: item[k] for k in KEPT if k in item}}


def _apply(events: dict[str, dict[str, Any]], items: list[dict[str, Any]]) -> bool:
    """Apply delta items in place; True when anything changed."""
    changed = False
    for item in items:
        if "@removed" in item:
            changed = events.pop(item["id"], None) is not None or changed
            continue
        # An update may carry only the properties that changed.
        merged = {**events.get(item["id"], {}), **_compact(item)}
        if merged != events.get(item["id"]):
            events[item["id"]] = merged
            changed = True
    return changed


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def source(where: str, setup: CalendarSetup) -> OutlookCalendarSource | None:
    """An Outlook mailbox, read as the app through the shared Graph client; None without
    Graph credentials."""
    client = setup.graph()
    if client is None:
        return None
    return OutlookCalendarSource(client=client, mailbox=where, time_zone=setup.zone,
                                 policies=setup.policies)
