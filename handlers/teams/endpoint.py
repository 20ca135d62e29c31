"""The Teams messaging endpoint on oscbot's own server: settings, auth mode, tenant gate.

The SDK validates the Bot Framework JWT (unless local testing switched it off);
this adapter first refuses other tenants (403, nothing read further) and oversized
or malformed bodies, then hands the activity to the SDK.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from microsoft_teams.apps.http.adapter import HttpMethod, HttpRequest, HttpRouteHandler

from bot.config.settings import Settings
from bot.config.urls import is_loopback

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class TeamsSettings:
    """What the Teams bot needs from the environment."""

    client_id: str
    client_secret: str
    tenant_id: str
    service_url: str
    unauthenticated: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> TeamsSettings:
        """Read the TEAMS_* settings; unauthenticated mode only against a loopback service."""
        secret = settings.teams_client_secret
        return cls(client_id=settings.teams_client_id or "",
                   client_secret=secret.get_secret_value() if secret else "",
                   tenant_id=settings.teams_tenant_id or "",
                   service_url=settings.teams_service_url,
                   unauthenticated=allow_unauthenticated(
                       settings.teams_dangerously_allow_unauthenticated,
                       settings.teams_service_url))


def allow_unauthenticated(asked: bool, service_url: str) -> bool:
    """Honour TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED only for a loopback service URL."""
    if not asked:
        return False
    if not is_loopback(service_url):
        log.error("TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED is IGNORED: TEAMS_SERVICE_URL is "
                  "not a loopback address, so every Teams request must carry a valid token")
        return False
    log.warning("!!! TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED=true: Teams requests are NOT "
                "authenticated and no tokens are sent. Local testing only (Agents Playground, "
                "tests); never expose this server. !!!")
    return True


def tenant_of(activity: dict[str, Any]) -> str:
    """The tenant an activity claims to come from."""
    channel = activity.get("channelData") or {}
    conversation = activity.get("conversation") or {}
    return str((channel.get("tenant") or {}).get("id") or conversation.get("tenantId") or "")


class TeamsAdapter:
    """The SDK's HTTP adapter on oscbot's own FastAPI app, with a tenant and size gate."""

    def __init__(self, api: FastAPI, *, tenant_id: str) -> None:
        self._api = api
        self._tenant_id = tenant_id

    def register_route(self, method: HttpMethod, path: str, handler: HttpRouteHandler) -> None:
        """Serve the SDK's messaging endpoint on our app."""
        async def messages(request: Request) -> Response:
            raw = await request.body()
            if len(raw) > MAX_BODY:
                return JSONResponse({"error": "activity too large"}, status_code=413)
            try:
                body = json.loads(raw)
            except ValueError:
                return JSONResponse({"error": "body is not JSON"}, status_code=400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "body is not an activity"}, status_code=400)
            if self._tenant_id and tenant_of(body) != self._tenant_id:
                log.warning("Teams activity from another tenant refused")
                return JSONResponse({"error": "tenant not served"}, status_code=403)
            result = await handler(HttpRequest(body=body, headers=dict(request.headers)))
            if result.get("body") is not None:
                return JSONResponse(result["body"], status_code=result["status"])
            return Response(status_code=result["status"])

        self._api.add_api_route(path, messages, methods=[method])

    def serve_static(self, path: str, directory: str) -> None:
        """oscbot serves no Teams tabs."""

    async def start(self, port: int) -> None:
        """oscbot runs the server itself."""
        raise RuntimeError("oscbot serves /api/messages on its own server")

    async def stop(self) -> None:
        """Nothing to stop: the server is oscbot's."""
