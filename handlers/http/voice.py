"""`POST /voice/twilio`: Twilio asks whom to ring for a call to an OSC's number."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from bot.context import AppContext
from routing.twilio import valid_signature, voice_response


def voice_router(ctx: AppContext, *, auth_token: str, public_url: str) -> APIRouter:
    """The voice webhook, checking Twilio's signature against the public URL."""
    router = APIRouter()
    numbers = {p.routing_ids["twilio_number"]: p for p in ctx.config.oscs
               if p.routing_ids.get("twilio_number")}

    @router.post("/voice/twilio")
    async def incoming(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        url = public_url.rstrip("/") + "/voice/twilio"
        if not valid_signature(auth_token=auth_token, url=url, params=form,
                               signature=request.headers.get("X-Twilio-Signature", "")):
            return Response(status_code=403)
        osc = numbers.get(form.get("To", ""))
        dial = None
        if osc is not None:
            # A database read: off the event loop, so a lock elsewhere never stalls the server.
            target = await run_in_threadpool(ctx.coverage.routed_to, osc.email,
                                             channel="calls")
            person = ctx.config.find_person(target)
            dial = person.phone if person else None
        fallback = osc.phone if osc is not None else None
        return Response(voice_response(dial=dial, fallback=fallback),
                        media_type="application/xml")

    return router
