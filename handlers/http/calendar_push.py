"""`POST /calendar/google/notifications`: a Google push notification syncs one calendar."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bot.context import AppContext
from calendars.google_push import NOTIFICATIONS_PATH, notification_target, open_channels


def calendar_push_router(ctx: AppContext) -> APIRouter:
    """The notification route bound to a context."""
    router = APIRouter()

    @router.post(NOTIFICATIONS_PATH)
    def notified(request: Request) -> Response:
        channels = open_channels(ctx.calendars.states([osc.email for osc in ctx.config.oscs]))
        osc = notification_target(dict(request.headers), channels)
        if osc is not None and osc in ctx.calendars.sources:
            ctx.calendars.sync_one(osc)
        # Google retries anything but 2xx; unknown or stale channels are simply ignored.
        return Response(status_code=204)

    return router
