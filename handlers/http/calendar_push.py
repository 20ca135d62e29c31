"""`POST /calendar/google/notifications`: a Google push notification syncs one calendar."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bot.context import AppContext
from calendars.google_push import WatchChannel, notification_target


def open_channels(ctx: AppContext) -> dict[str, WatchChannel]:
    """Every open watch channel, by channel id, from the OSCs' calendar state."""
    channels = {}
    for osc in ctx.config.oscs:
        state = ctx.repos.calendar_sync.get(osc.email)
        channel = WatchChannel.from_cursor(osc.email, state.cursor) if state else None
        if channel is not None:
            channels[channel.channel_id] = channel
    return channels


def calendar_push_router(ctx: AppContext) -> APIRouter:
    """The notification route bound to a context."""
    router = APIRouter()

    @router.post("/calendar/google/notifications")
    def notified(request: Request) -> Response:
        osc = notification_target(dict(request.headers), open_channels(ctx))
        if osc is not None and osc in ctx.calendars.sources:
            ctx.calendars.sync_one(osc)
        # Google retries anything but 2xx; unknown or stale channels are simply ignored.
        return Response(status_code=204)

    return router
