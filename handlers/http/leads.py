"""Lead intake: `POST /leads` and `POST /leads/{id}/activities`, signed per request.

The signature (see `handlers.http.signing`) covers a timestamp, the method, the path
and the body. Validation happens entirely before anything is stored, so a bad request
leaves no trace; a duplicate (same source and external id, or the same activity
external id on a lead) answers 200 with the first record's id. Database work runs in
the thread pool: a request waiting on a lock never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.concurrency import run_in_threadpool

from bot.context import AppContext
from bot.errors import InvalidInput, NotFound
from bot.leads.service import NewLead
from bot.model import ActivityKind
from handlers.http.signing import SIGNATURE_HEADER, verify

MAX_BODY = 64 * 1024
# A lead or contact from further back than a year, or more than a day ahead, is a
# sender's bug (a zero date, a unit mix-up), not a real event: refused at the door.
ACCEPTED_PAST = timedelta(days=365)
ACCEPTED_FUTURE = timedelta(days=1)
# Row ids are 64-bit: anything larger cannot name a lead.
MAX_ID = 2**63 - 1
INTAKE_THREADS = 4
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{7,20}$")

log = logging.getLogger(__name__)
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
    external_id: Short | None = None


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_signed(request: Request, secret: str, *, now: datetime) -> bytes | JSONResponse:
    body = await read_capped(request, MAX_BODY)
    if body is None:
        return _error(413, f"body larger than {MAX_BODY} bytes")
    problem = verify(request.headers.get(SIGNATURE_HEADER), secret=secret,
                     method=request.method, path=request.url.path, body=body, now=now)
    if problem is not None:
        return _error(401, problem)
    return body


def _parse(body: bytes, model: type[BaseModel]) -> BaseModel | JSONResponse:
    try:
        data: Any = json.loads(body)
    except RecursionError:
        # Python's parser recurses per nesting level: thousands of `[` exhaust the stack.
        return _error(400, "JSON nested too deeply")
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
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


async def _signed_model(request: Request, secret: str, model: type[M], *,
                        now: datetime) -> M | JSONResponse:
    """The verified, validated body, or the error response to send instead."""
    body = await _read_signed(request, secret, now=now)
    if isinstance(body, JSONResponse):
        return body
    parsed = _parse(body, model)
    if isinstance(parsed, JSONResponse):
        return parsed
    assert isinstance(parsed, model)
    return parsed


def checked_time(value: datetime | None, *, now: datetime, field: str) -> datetime:
    """A sender's timestamp, or now when absent; InvalidInput naming the accepted range
    when it has no zone or lies far in the past or future."""
    if value is None:
        return now
    if value.tzinfo is None:
        raise InvalidInput(f"{field}: timestamp needs a time zone, e.g. 2026-11-20T15:04:05Z",
                           field=field)
    earliest, latest = now - ACCEPTED_PAST, now + ACCEPTED_FUTURE
    if not earliest <= value <= latest:
        raise InvalidInput(
            f"{field}: {value.isoformat()} is out of range; accepted from "
            f"{_iso(earliest)} to {_iso(latest)} (at most {ACCEPTED_PAST.days} days ago, "
            f"{ACCEPTED_FUTURE.days} day ahead)", field=field)
    return value


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _lead_id(raw: str) -> int | None:
    """The lead id from the URL, or None when it cannot name a lead (so: 404)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


class Kicker:
    """Wakes delivery after a commit without making anyone wait for it.

    With a background delivery loop running, `wake` wakes it at once (it never blocks).
    Otherwise the kick runs in a worker thread (without a running delivery loop it
    delivers right there), outside the request: a Starlette background task would hold
    the connection until it finished, so the client's next request would wait for a
    delivery round. Kicks asked for while one is still queued are one kick: that one
    reads the outbox after every commit that asked for it.
    """

    def __init__(self, kick: Callable[[], None], *, executor: Executor | None = None,
                 wake: Callable[[], bool] | None = None) -> None:
        self._kick = kick
        self._wake = wake
        self._executor = executor  # None: the loop's default thread pool
        self._queued = False
        self._running: set[asyncio.Future[None]] = set()

    def __call__(self) -> None:
        """Wake the running delivery loop, or schedule a kick on the running loop's
        executor unless one is already queued."""
        # No hop to a thread and back per lead when all it would do is set an event.
        if self._wake is not None and self._wake():
            return
        if self._queued:
            return
        self._queued = True
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._run)
        # Held until done: the loop keeps only weak references to pending futures.
        self._running.add(future)
        future.add_done_callback(self._done)

    def _run(self) -> None:
        # Cleared before kicking: a commit after this line queues a kick of its own.
        self._queued = False
        self._kick()

    def _done(self, future: asyncio.Future[None]) -> None:
        self._running.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("delivery kick failed: %s", type(future.exception()).__name__)


@functools.cache
def _intake_threads() -> ThreadPoolExecutor:
    """The threads lead intakes run their transaction in, shared by every app in the
    process. Few of them: on SQLite the transactions take turns on the one writer
    anyway, and on PostgreSQL four at once stay inside the connection pool (5), where
    the 40 threads of the shared pool would queue for connections. asyncio's executor
    hand-off also costs less per request than anyio's."""
    return ThreadPoolExecutor(INTAKE_THREADS, thread_name_prefix="intake")


def leads_router(ctx: AppContext, *, secret: str) -> APIRouter:
    """The intake routes, bound to a context and the webhook secret."""
    router = APIRouter()
    kick = Kicker(ctx.delivery.kick, wake=ctx.delivery.wake)
    intake = _intake_threads()

    @router.post("/leads")
    async def receive(request: Request) -> JSONResponse:
        now = ctx.clock.now()
        parsed = await _signed_model(request, secret, LeadIn, now=now)
        if isinstance(parsed, JSONResponse):
            return parsed
        try:
            new = _to_new_lead(parsed, now=now)
            lead, created = await asyncio.get_running_loop().run_in_executor(
                intake, ctx.leads.receive, new)
        except InvalidInput as exc:
            return _error(400, str(exc), exc.field)
        if created:
            # Speed to lead: the DM goes out now, not at the next delivery tick; the
            # answer does not wait for it (it is committed in the outbox already).
            kick()
        return JSONResponse({"id": lead.id, "assigned_to": lead.assigned_to,
                             "reason": lead.assignment_reason},
                            status_code=202 if created else 200)

    @router.post("/leads/{lead_id}/activities")
    async def activity(lead_id: str, request: Request) -> JSONResponse:
        now = ctx.clock.now()
        parsed = await _signed_model(request, secret, ActivityIn, now=now)
        if isinstance(parsed, JSONResponse):
            return parsed
        number = _lead_id(lead_id)
        if number is None:
            return _error(404, f"no lead with id {lead_id[:40]}")
        try:
            at = checked_time(parsed.at, now=now, field="at")
            saved, created = await run_in_threadpool(lambda: ctx.leads.record_activity(
                lead_id=number, kind=ActivityKind(parsed.kind), direction=parsed.direction,
                by=parsed.by, at=at, two_way=parsed.two_way, notes=parsed.notes,
                external_id=parsed.external_id))
        except NotFound as exc:
            return _error(404, str(exc))
        except InvalidInput as exc:
            return _error(400, str(exc), exc.field)
        return JSONResponse({"id": saved.id, "lead_id": number},
                            status_code=202 if created else 200)

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
                   received_at=checked_time(body.received_at, now=now, field="received_at"))
