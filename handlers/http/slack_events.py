"""`POST /slack/events` at the door: size cap, signature, then parsing, then Bolt.

Bolt would read any body whole and parse it before checking the signature; here an
oversized body is refused while it streams in (413), an unsigned or stale one before a
byte of it is parsed (401), and a signed one that is not the JSON or form Slack sends
gets a 400 instead of an exception.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import (
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from handlers.http.leads import read_capped
from handlers.slack.app import MALFORMED

log = logging.getLogger(__name__)

# Slack's largest requests are view submissions, which carry the whole modal: at most
# 100 blocks (Block Kit's documented limit) of at most 3,000 characters each plus the
# input state, a few hundred KB in the worst case. Events, commands and actions are a
# few KB. 1 MiB leaves room and still stops a flood of huge unsigned bodies.
SLACK_MAX_BODY = 1024 * 1024


class SlackDoor:
    """Checks a Slack request before Bolt sees it, then dispatches it to the Bolt app."""

    def __init__(self, app: AsyncApp, *, signing_secret: str) -> None:
        self._app = app
        self._verifier = SignatureVerifier(signing_secret)

    async def handle(self, request: Request) -> Response:
        """Answer a POST from Slack: 413, 401 or 400 at the door, else Bolt's answer."""
        body = await read_capped(request, SLACK_MAX_BODY)
        if body is None:
            return _refuse(413, f"body larger than {SLACK_MAX_BODY} bytes")
        if not self._signed(body, request):
            if len(body) < 512 and parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]:
                # Slack's certificate probe for slash commands may come unsigned; it only
                # wants a 200 (as Bolt answers it), nothing is processed.
                return Response(status_code=200)
            return _refuse(401, "missing, wrong or stale Slack signature")
        problem = _unparseable(body, request.headers.get("content-type"))
        if problem is not None:
            log.warning("signed Slack request refused: %s", problem)
            return _refuse(400, problem)
        try:
            bolt_response = await self._app.async_dispatch(to_async_bolt_request(request, body))
        except MALFORMED as exc:
            # Bolt indexes into the payload while routing it (`actions[0]`, `view["state"]`);
            # a signed payload missing what Slack always sends is refused, not a 500.
            log.warning("signed Slack request refused: malformed payload (%s)",
                        type(exc).__name__)
            return _refuse(400, "payload is missing fields Slack always sends")
        return to_starlette_response(bolt_response)

    def _signed(self, body: bytes, request: Request) -> bool:
        try:
            return self._verifier.is_valid(body, request.headers.get("x-slack-request-timestamp"),
                                           request.headers.get("x-slack-signature"))
        except UnicodeDecodeError:
            # The verifier signs text; Slack only ever sends UTF-8, so this is not Slack.
            return False


def _unparseable(body: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not read this body (parsed exactly as Bolt parses it), or None."""
    try:
        text = body.decode("utf-8")
        parsed: Any = parse_body(text, content_type)
    except UnicodeDecodeError:
        return "body is not UTF-8"
    except RecursionError:
        return "JSON nested too deeply"
    except ValueError:  # json.JSONDecodeError
        return "body is not the JSON or form data Slack sends"
    if not isinstance(parsed, dict):
        return "payload is not a JSON object"
    return None


def _refuse(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
