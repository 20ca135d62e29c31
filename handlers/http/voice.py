"""`POST /voice/twilio`: Twilio asks whom to ring for a call to an OSC's number;
`POST /voice/twilio/dialled`: how the ringing ended (nobody answered: take a message);
`POST /voice/twilio/voicemail`: a message left, which the managers hear about in the
team channel."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from bot.context import AppContext
from bot.messages import Header, Message, Section, mention, outside
from routing.twilio import (
    DIALLED_PATH,
    VOICE_PATH,
    VOICEMAIL_PATH,
    after_dial,
    dialled_url,
    valid_signature,
    voice_response,
    voicemail_taken,
    voicemail_url,
    webhook_url,
)

XML = "application/xml"


def voicemail_notice(ctx: AppContext, form: dict[str, str]) -> Message:
    """The team-channel post for a voicemail: whose line, who called, the recording."""
    osc = next((p for p in ctx.config.oscs
                if p.routing_ids.get("twilio_number") == form.get("To")), None)
    line = f"{osc.name}'s line" if osc else "an oscbot line"
    caller = outside(form.get("From") or "an unknown number")
    seconds = form.get("RecordingDuration", "")
    managers = " ".join(mention(m) for m in ctx.config.team.managers)
    length = f" ({seconds} s)" if seconds.isdigit() else ""
    ask = f"{managers}, please call them back." if managers else "Please call them back."
    return Message(
        text=f"Voicemail on {line} from {caller}{length}: nobody could take the call.",
        blocks=(Header(f"📞 Voicemail on {line}"),
                Section(f"Nobody could take a call from {caller}, who left a message{length}. "
                        + ask, (("Recording", outside(form.get("RecordingUrl", ""))),))),
        mentions=tuple(ctx.config.team.managers))


def voice_router(ctx: AppContext, *, auth_token: str, public_url: str) -> APIRouter:
    """The voice webhooks, each checking Twilio's signature against its public URL (the
    same URL the drill checks the numbers against)."""
    router = APIRouter()
    numbers = {p.routing_ids["twilio_number"]: p for p in ctx.config.oscs
               if p.routing_ids.get("twilio_number")}

    async def signed_form(request: Request, url: str) -> dict[str, str] | None:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not valid_signature(auth_token=auth_token, url=url, params=form,
                               signature=request.headers.get("X-Twilio-Signature", "")):
            return None
        return form

    @router.post(VOICE_PATH)
    async def incoming(request: Request) -> Response:
        form = await signed_form(request, webhook_url(public_url))
        if form is None:
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
        return Response(voice_response(dial=dial, fallback=fallback,
                                       voicemail=voicemail_url(public_url),
                                       dialled=dialled_url(public_url)),
                        media_type=XML)

    @router.post(DIALLED_PATH)
    async def dialled(request: Request) -> Response:
        form = await signed_form(request, dialled_url(public_url))
        if form is None:
            return Response(status_code=403)
        return Response(after_dial(form.get("DialCallStatus", ""),
                                   voicemail=voicemail_url(public_url)), media_type=XML)

    @router.post(VOICEMAIL_PATH)
    async def voicemail(request: Request) -> Response:
        form = await signed_form(request, voicemail_url(public_url))
        if form is None:
            return Response(status_code=403)
        if form.get("RecordingUrl"):
            # Once per call, however often Twilio retries this request.
            await run_in_threadpool(ctx.notifier.post,
                                    key=f"voicemail:{form.get('CallSid', '')}",
                                    message=voicemail_notice(ctx, form))
        return Response(voicemail_taken(), media_type=XML)

    return router
