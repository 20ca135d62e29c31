"""Google Calendar push notifications: watch channels, their renewal, and the
notifications that trigger an incremental sync of one OSC's calendar.

Channels are kept in the OSC's calendar cursor (`watch_*` keys) so they survive
restarts; a channel is renewed `margin` before it expires. Google delivers notifications
only to an HTTPS address with a valid certificate
(https://developers.google.com/calendar/api/guides/push): an http:// public URL is
refused here, before Google is asked, and calendars are polled meanwhile.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from googleapiclient.errors import HttpError

from bot.calendar.sync import CalendarSyncService
from bot.errors import CalendarError
from bot.ports.calendars import CalendarSyncState
from bot.ports.clock import Clock
from calendars.google import GoogleCalendarSource

RESOURCE_STATES = {"sync", "exists", "not_exists"}
NOTIFICATIONS_PATH = "/calendar/google/notifications"


@dataclass(frozen=True)
class WatchChannel:
    """One open notification channel for one OSC's calendar."""

    osc_email: str
    channel_id: str
    resource_id: str
    token: str
    expires_at: datetime

    def to_cursor(self) -> dict[str, str]:
        """The channel as cursor entries."""
        return {"watch_channel_id": self.channel_id, "watch_resource_id": self.resource_id,
                "watch_token": self.token, "watch_expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_cursor(cls, osc_email: str, cursor: Mapping[str, str]) -> WatchChannel | None:
        """The channel stored in a cursor, if any."""
        if not cursor.get("watch_channel_id"):
            return None
        return cls(osc_email, cursor["watch_channel_id"], cursor["watch_resource_id"],
                   cursor["watch_token"], datetime.fromisoformat(cursor["watch_expires_at"]))


def channels_to_renew(channels: list[WatchChannel], *, now: datetime,
                      margin: timedelta = timedelta(hours=6)) -> list[WatchChannel]:
    """Channels that expire within `margin` of `now` (and so must be replaced now)."""
    return [c for c in channels if c.expires_at - margin <= now]


def open_channel(service: Any, *, osc_email: str, calendar_id: str, address: str,
                 ttl: timedelta = timedelta(days=7)) -> WatchChannel:
    """Ask Google to POST changes of this calendar to `address` (an https:// URL)."""
    if not address.startswith("https://"):
        raise CalendarError(not_https(address))
    channel_id, token = secrets.token_hex(16), secrets.token_urlsafe(24)
    body = {"id": channel_id, "type": "web_hook", "address": address, "token": token,
            "params": {"ttl": str(int(ttl.total_seconds()))}}
    try:
        answer = service.events().watch(calendarId=calendar_id, body=body).execute(
            num_retries=0)
    except HttpError as exc:
        raise CalendarError(f"cannot watch {calendar_id}: HTTP {exc.resp.status}"
                            f"{_reason(exc)}") from None
    expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, tz=UTC)
    return WatchChannel(osc_email, answer["id"], answer["resourceId"], token, expires)


def not_https(address: str) -> str:
    """Why Google will not push to `address`, in words an admin can act on."""
    return (f"Google sends calendar push notifications only to HTTPS addresses, not "
            f"{address}: set OSCBOT_PUBLIC_URL to an https:// URL (calendars are polled "
            "until then)")


def _reason(exc: HttpError) -> str:
    try:
        errors = json.loads(exc.content.decode("utf-8"))["error"].get("errors", [])
        return f" ({errors[0]['reason']})" if errors and errors[0].get("reason") else ""
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


def close_channel(service: Any, channel: WatchChannel) -> None:
    """Stop a channel; one that is already gone is fine."""
    try:
        service.channels().stop(body={"id": channel.channel_id,
                                      "resourceId": channel.resource_id}).execute(num_retries=0)
    except HttpError as exc:
        if int(exc.resp.status) != 404:
            raise CalendarError(f"cannot stop channel: HTTP {exc.resp.status}") from None


def notification_target(headers: Mapping[str, str],
                        channels: Mapping[str, WatchChannel]) -> str | None:
    """The OSC whose calendar to sync for a notification, or None to ignore it.

    `channels` maps channel ids to open channels; the token must match (constant
    time), and `sync` (the handshake sent when a channel opens) triggers nothing.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    channel = channels.get(lowered.get("x-goog-channel-id", ""))
    if channel is None:
        return None
    if not hmac.compare_digest(lowered.get("x-goog-channel-token", ""), channel.token):
        return None
    state = lowered.get("x-goog-resource-state", "")
    if state not in RESOURCE_STATES or state == "sync":
        return None
    return channel.osc_email


def open_channels(states: Mapping[str, CalendarSyncState]) -> dict[str, WatchChannel]:
    """Every open watch channel, by channel id, from the OSCs' calendar state."""
    channels = {}
    for osc, state in states.items():
        channel = WatchChannel.from_cursor(osc, state.cursor)
        if channel is not None:
            channels[channel.channel_id] = channel
    return channels


class GooglePush:
    """Watch channels on every Google calendar, each renewed before it expires (the
    `CalendarPush` of Google calendars)."""

    def __init__(self, *, calendars: CalendarSyncService, clock: Clock, public_url: str) -> None:
        self._sync = calendars
        self._clock = clock
        self._address = public_url.rstrip("/") + NOTIFICATIONS_PATH

    def calendars(self) -> list[str]:
        """The OSCs whose calendar is a Google calendar, in order."""
        return sorted(osc for osc, source in self._sync.sources.items()
                      if isinstance(source, GoogleCalendarSource))

    def ensure(self, osc_email: str) -> tuple[int, list[str]]:
        """Open a channel on the OSC's calendar, or replace one that expires soon: (1 when
        a channel was opened, else 0; no problems, a refusal raises CalendarError)."""
        source = self._sync.sources.get(osc_email)
        if not isinstance(source, GoogleCalendarSource):
            return 0, []
        state = self._sync.state(osc_email)
        current = WatchChannel.from_cursor(osc_email, state.cursor) if state else None
        if current is not None and not channels_to_renew([current], now=self._clock.now()):
            return 0, []
        channel = open_channel(source.service, osc_email=osc_email,
                               calendar_id=source.calendar_id, address=self._address)
        self._sync.remember(osc_email, channel.to_cursor())
        if current is not None:
            close_channel(source.service, current)
        return 1, []
