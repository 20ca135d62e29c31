"""Lead intake: `POST /leads` and `POST /leads/{id}/activities`, signed with HMAC-SHA256.

Validation happens entirely before anything is stored, so a bad request leaves
no trace; a duplicate (same source and external id) answers 200 with the first
lead's id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.errors import InvalidInput, NotFound
from bot.model import ActivityKind
from bot.services.leads import NewLead
from handlers.context import AppContext

MAX_BODY = 64 * 1024
SIGNATURE_HEADER = "X-OSCBot-Signature"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{7,20}$")

M = TypeVar("M", bound=BaseModel)
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class LeadIn(BaseModel):
    """The body of `POST /leads`; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: Short
    external_id: Short
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    community: Short | None = None
    store: Short | None = None
    message: Annotated[str, StringConstraints(max_length=5000)] = ""
    received_at: Annotated[datetime, Field(strict=False)] | None = None


class ActivityIn(BaseModel):
    """The body of `POST /leads/{id}/activities`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["call", "email", "text", "note", "appointment"]
    direction: Literal["outbound", "inbound"]
    by: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
    at: Annotated[datetime, Field(strict=False)] | None = None
    two_way: bool = False
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""


def sign(body: bytes, secret: str) -> str:
    """The signature header value for a body: `sha256=<hex>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def _read_signed(request: Request, secret: str) -> bytes | JSONResponse:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return _error(413, f"body larger than {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return _error(413, f"body larger than {MAX_BODY} bytes")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(given, sign(body, secret)):
        return _error(401, f"missing or wrong {SIGNATURE_HEADER}")
    return body


def _parse(body: bytes, model: type[BaseModel]) -> BaseModel | JSONResponse:
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "body is not valid JSON")
    if not isinstance(data, dict):
        return _error(400, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = ("unknown field" if first["type"] == "extra_forbidden" else first["msg"])
        return _error(400, f"{field}: {message}" if field else message, field)


async def _signed_model(request: Request, secret: str,
                        model: type[M]) -> M | JSONResponse:
    """The verified, validated body, or the error response to send instead."""
    body = await _read_signed(request, secret)
    if isinstance(body, JSONResponse):
        return body
    parsed = _parse(body, model)
    if isinstance(parsed, JSONResponse):
        return parsed
    assert isinstance(parsed, model)
    return parsed


def _aware(value: datetime | None, fallback: datetime) -> datetime:
    if value is None:
        return fallback
    if value.tzinfo is None:
        raise InvalidInput("timestamp needs a time zone, e.g. 2026-11-20T15:04:05Z",
                           field="received_at")
    return value


def leads_router(ctx: AppContext, *, secret: str) -> APIRouter:
    """The intake routes, bound to a context and the webhook secret."""
    router = APIRouter()

    @router.post("/leads")
    async def receive(request: Request, background: BackgroundTasks) -> JSONResponse:
        parsed = await _signed_model(request, secret, LeadIn)
        if isinstance(parsed, JSONResponse):
            return parsed
        try:
            new = _to_new_lead(parsed, now=ctx.clock.now())
            lead, created = await asyncio.to_thread(ctx.leads.receive, new)
        except InvalidInput as exc:
            return _error(400, str(exc), exc.field)
        if created:
            # Speed to lead: the DM goes out now, not at the next delivery tick.
            background.add_task(asyncio.to_thread, ctx.delivery.kick)
        return JSONResponse({"id": lead.id, "assigned_to": lead.assigned_to,
                             "reason": lead.assignment_reason},
                            status_code=202 if created else 200, background=background)

    @router.post("/leads/{lead_id}/activities")
    async def activity(lead_id: int, request: Request) -> JSONResponse:
        parsed = await _signed_model(request, secret, ActivityIn)
        if isinstance(parsed, JSONResponse):
            return parsed
        try:
            at = _aware(parsed.at, ctx.clock.now())
            saved = ctx.leads.log_activity(
                lead_id=lead_id, kind=ActivityKind(parsed.kind), direction=parsed.direction,
                by=parsed.by, at=at, two_way=parsed.two_way, notes=parsed.notes)
        except NotFound as exc:
            return _error(404, str(exc))
        except InvalidInput as exc:
            return _error(400, str(exc), exc.field)
        return JSONResponse({"id": saved.id, "lead_id": lead_id}, status_code=202)

    return router


def _to_new_lead(body: LeadIn, *, now: datetime) -> NewLead:
    if body.community and body.store:
        raise InvalidInput("give community or store, not both", field="store")
    if not (body.email or body.phone):
        raise InvalidInput("a lead needs an email or a phone number", field="email")
    if body.email and not _EMAIL.match(body.email):
        raise InvalidInput(f"{body.email!r} is not an email address", field="email")
    if body.phone and not _PHONE.match(body.phone):
        raise InvalidInput("phone must be digits, optionally with +, spaces or dashes",
                           field="phone")
    return NewLead(source=body.source, external_id=body.external_id,
                   name=body.name or "(no name)", email=body.email, phone=body.phone,
                   community=body.community or body.store, message=body.message,
                   received_at=_aware(body.received_at, now))
