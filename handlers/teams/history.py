"""Did a Teams channel post already arrive? Asked of Microsoft Graph, by a hidden marker.

The Bot Connector keeps no history a bot can read, so after an ambiguous send (a timeout,
a 5xx, a crash mid-send) only Microsoft Graph can tell whether the message is in the
channel: `GET /teams/{group-id}/channels/{channel-id}/messages`, allowed for this team
alone by the resource-specific consent permission `ChannelMessage.Read.Group` in the app
manifest. Graph returns a bot's Adaptive Card as the attachment's content (the card JSON as
a string) but drops `channelData`, so each card carries its outbox key, hashed, as the `id`
of an invisible element.

1:1 chats cannot be searched this way: the app is installed for the person (personal
scope), not in a chat, so no chat permission is granted by consent, and their Graph chat id
is not the Bot Framework conversation id. Those sends rely on what this process saw.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from bot.errors import ChatError, retry_after_seconds

log = logging.getLogger(__name__)
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PAGE = 50  # Graph's largest page for channel messages
PAGES = 10  # an ambiguous send is recent: 500 newer messages means it is not there


class HistoryUnavailable(Exception):
    """Graph will not answer for this channel (no consent, unknown team): not a retry."""


def marker(key: str) -> str:
    """The element id that marks a card sent under outbox `key` (no personal data in it)."""
    return "oscbot-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def with_marker(content: dict[str, Any], key: str) -> dict[str, Any]:
    """The card with an invisible, empty container whose id is the key's marker."""
    hidden = {"type": "Container", "id": marker(key), "isVisible": False, "items": []}
    return {**content, "body": [*content.get("body", []), hidden]}


def _has_marker(node: Any, wanted: str) -> bool:
    if isinstance(node, dict):
        return node.get("id") == wanted or any(_has_marker(v, wanted) for v in node.values())
    if isinstance(node, list):
        return any(_has_marker(v, wanted) for v in node)
    return False


def sent_by_app(message: dict[str, Any], app_id: str, wanted: str) -> bool:
    """Whether a Graph `chatMessage` is a card from this app carrying the marker."""
    application = (message.get("from") or {}).get("application") or {}
    if not application or (app_id and application.get("id") != app_id):
        return False
    for attachment in message.get("attachments") or []:
        content = attachment.get("content")
        try:
            card = json.loads(content) if isinstance(content, str) else content
        except ValueError:
            continue
        if _has_marker(card, wanted):
            return True
    return False


def _created(message: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(message.get("createdDateTime")).replace("Z", "+00:00"))
    except ValueError:
        return None


class GraphHistory:
    """Channel messages through Microsoft Graph, for finding a sent card by its key."""

    def __init__(self, *, base_url: str, app_id: str, token: Callable[[], str | None],
                 timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._app_id = app_id
        self._token = token
        self._http = httpx.Client(timeout=timeout)

    def find_in_channel(self, *, group_id: str, channel_id: str, key: str,
                        since: datetime) -> str | None:
        """The id of the channel post sent under `key` since `since`, or None.

        Raises ChatError (transient) when Graph cannot answer now, HistoryUnavailable when
        it never will for this channel (consent not granted, team unknown).
        """
        wanted = marker(key)
        url: str | None = (f"{self._base}/teams/{quote(group_id, safe='')}/channels/"
                           f"{quote(channel_id, safe='')}/messages?$top={PAGE}")
        for _ in range(PAGES):
            if url is None:
                return None
            page = self._get(url)
            messages = page.get("value") or []
            for message in messages:
                if sent_by_app(message, self._app_id, wanted):
                    return str(message["id"])
            created = [c for c in map(_created, messages) if c is not None]
            # Newest first: once a whole page is older than the first attempt, stop.
            if created and max(created) < since:
                return None
            url = page.get("@odata.nextLink")
        return None

    def _get(self, url: str) -> dict[str, Any]:
        token = self._token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            answer = self._http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise ChatError(f"Graph channel history: network error ({type(exc).__name__})",
                            transient=True) from None
        if answer.status_code == 429 or answer.status_code >= 500:
            raise ChatError(f"Graph channel history: HTTP {answer.status_code}", transient=True,
                            retry_after=retry_after_seconds(answer.headers.get("Retry-After")))
        if answer.status_code != 200:
            code = ((answer.json() if answer.content else {}).get("error") or {}).get("code")
            raise HistoryUnavailable(f"HTTP {answer.status_code} {code or ''}".strip())
        body: dict[str, Any] = answer.json()
        return body
