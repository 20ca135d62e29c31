"""`POST /calendar/outlook/notifications` and `/calendar/outlook/lifecycle`: Microsoft Graph
change and lifecycle notifications for Outlook calendars.

Graph first proves an endpoint with `?validationToken=…`, which must come back as
text/plain within 10 seconds. Real notifications are answered 202 at once (Graph wants
an answer within 3 seconds) and acted on afterwards; a notification with an unknown
subscription or clientState is refused with 403 and nothing is done.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import PlainTextResponse

from bot.context import AppContext
from calendars.outlook_push import (
    LIFECYCLE_PATH,
    NOTIFICATIONS_PATH,
    OutlookSubscriptions,
    verified_notices,
)

MAX_BODY = 1_000_000
MAX_TOKEN = 1024


def outlook_push_router(ctx: AppContext) -> APIRouter:
    """The notification routes bound to a context."""
    router = APIRouter()
    subscriptions = OutlookSubscriptions(calendars=ctx.calendars, clock=ctx.clock,
                                         public_url=ctx.public_url or "")

    async def notified(request: Request, background: BackgroundTasks) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            if len(token) > MAX_TOKEN:
                return Response(status_code=400)
            return PlainTextResponse(token)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        notices = verified_notices(body, subscriptions.held())
        if notices is None:
            return Response(status_code=403)
        background.add_task(subscriptions.handle, notices)
        return Response(status_code=202)

    router.add_api_route(NOTIFICATIONS_PATH, notified, methods=["POST"])
    router.add_api_route(LIFECYCLE_PATH, notified, methods=["POST"])
    return router
