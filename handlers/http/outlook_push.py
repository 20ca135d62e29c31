"""`POST /calendar/outlook/notifications` and `/calendar/outlook/lifecycle`: Microsoft Graph
change and lifecycle notifications for Outlook calendars.

Graph first proves an endpoint with `?validationToken=…`, which must come back as
text/plain within 10 seconds. Notifications come in batches of several subscriptions and
are answered 202 at once (Graph resends a batch not answered 2xx within 3 seconds, for
hours) and acted on afterwards: genuine items sync their mailbox, items of subscriptions
oscbot no longer holds get those subscriptions deleted. Only a batch in which nothing came
from Graph (every item's clientState wrong) is refused with 403; a body that is not a
notification collection gets 400.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import PlainTextResponse

from bot.context import AppContext
from calendars.outlook_push import (
    LIFECYCLE_PATH,
    NOTIFICATIONS_PATH,
    OutlookSubscriptions,
    read_batch,
)

log = logging.getLogger(__name__)

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
        batch = read_batch(body, subscriptions.held())
        if batch is None:
            return Response(status_code=400)
        if batch.forged:
            log.warning("ignored %d Outlook notification item(s) with a wrong clientState",
                        batch.forged)
        if not batch.accepted:
            return Response(status_code=403)
        background.add_task(subscriptions.handle, batch.notices, unknown=batch.unknown)
        return Response(status_code=202)

    router.add_api_route(NOTIFICATIONS_PATH, notified, methods=["POST"])
    router.add_api_route(LIFECYCLE_PATH, notified, methods=["POST"])
    return router
