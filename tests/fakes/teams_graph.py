"""Microsoft Graph's view of the fake Bot Connector's conversations, in Graph's wire format.

What a bot sent to a channel is listed by `GET /v1.0/teams/{team-id}/channels/{channel-id}/
messages` (resource-specific consent `ChannelMessage.Read.Group`): `chatMessage` objects,
newest first, at most 50 a page (`$top` above 50 is refused), later pages through
`@odata.nextLink`. The team is addressed by its Microsoft 365 group id (a GUID), not by the
Bot Framework's `19:…` thread id. A bot's card arrives as an attachment whose `content` is
the card's JSON as a string; the body only points at it.

A bot's 1:1 chats are not readable with resource-specific consent (the app is installed for
the user, not in a chat): `GET /v1.0/chats/{chat-id}/messages` answers 403, as Graph does
without a tenant-wide chat permission.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlparse

if TYPE_CHECKING:
    from tests.fakes.bot_connector import FakeBotConnector

TEAM_GROUP_ID = "7d3a1c52-58a3-4d4e-9b1d-6f0e2b9c4a11"
MAX_TOP = 50
_CHANNEL = re.compile(r"^/v1\.0/teams/([^/]+)/channels/([^/]+)/messages$")
_CHAT = re.compile(r"^/v1\.0/chats/([^/]+)/messages$")


def graph_error(code: str, message: str) -> dict[str, Any]:
    """Graph's error envelope."""
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": _iso(datetime.now(UTC).timestamp())}}}


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def chat_message(fake: FakeBotConnector, channel: str, activity: dict[str, Any],
                 created: float, modified: float) -> dict[str, Any]:
    """One bot message as Graph's `chatMessage`."""
    attachments = []
    for n, attachment in enumerate(activity.get("attachments") or []):
        attachments.append({
            "id": f"{activity['id']}-att-{n}", "contentType": attachment.get("contentType"),
            "contentUrl": None, "content": json.dumps(attachment.get("content")),
            "name": None, "thumbnailUrl": None, "teamsAppId": None})
    body = "".join(f'<attachment id="{a["id"]}"></attachment>' for a in attachments)
    return {
        "id": activity["id"], "replyToId": None, "etag": str(int(modified * 1000)),
        "messageType": "message", "createdDateTime": _iso(created),
        "lastModifiedDateTime": _iso(modified),
        "lastEditedDateTime": _iso(modified) if modified != created else None,
        "deletedDateTime": None, "subject": None, "summary": None, "chatId": None,
        "importance": "normal", "locale": "en-us",
        "webUrl": f"https://teams.microsoft.com/l/message/{quote(channel)}/{activity['id']}",
        "policyViolation": None, "eventDetail": None,
        "from": {"application": {
            "@odata.type": "#microsoft.graph.teamworkApplicationIdentity",
            "id": fake.app_id, "displayName": "oscbot", "applicationIdentityType": "bot"},
            "device": None, "user": None},
        "body": {"contentType": "html", "content": body or activity.get("text", "")},
        "channelIdentity": {"teamId": TEAM_GROUP_ID, "channelId": channel},
        "attachments": attachments, "mentions": [], "reactions": [],
    }


def graph_get(fake: FakeBotConnector, raw_path: str) -> tuple[int, dict[str, Any]]:
    """Answer a Graph GET: (status, body)."""
    url = urlparse(raw_path)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    path = unquote(url.path)
    fake.graph_requests.append(raw_path)
    if _CHAT.match(path):
        return 403, graph_error("Forbidden", "Missing role permissions on the request. API "
                                "requires one of 'ChatMessage.Read.Chat, Chat.Read.All, "
                                "Chat.ReadWrite.All'.")
    match = _CHANNEL.match(path)
    if not match:
        return 404, graph_error("NotFound", "Resource not found for the segment.")
    team, channel = match.groups()
    if team != TEAM_GROUP_ID:
        return 404, graph_error("NotFound", f"No team found with Group Id {team}")
    try:
        top = int(query.get("$top", "20"))
        skip = int(query.get("$skiptoken", "0"))
    except ValueError:
        return 400, graph_error("BadRequest", "Invalid query option")
    if not 0 < top <= MAX_TOP:
        return 400, graph_error("BadRequest", f"Invalid page size specified: '{top}'. Must "
                                f"be between 1 and {MAX_TOP} inclusive.")
    with fake.lock:
        conv = fake.conversations.get(channel)
        if conv is None or conv.kind != "channel":
            return 404, graph_error("NotFound", "Channel not found")
        newest_first = sorted(conv.order, key=lambda i: conv.modified[i], reverse=True)
        page = [chat_message(fake, channel, conv.activities[i], conv.created[i],
                             conv.modified[i]) for i in newest_first[skip:skip + top]]
        more = skip + top < len(newest_first)
    answer: dict[str, Any] = {
        "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#teams('{team}')"
                          f"/channels('{quote(channel)}')/messages", "@odata.count": len(page),
        "value": page}
    if more:
        answer["@odata.nextLink"] = (f"{fake.url}/v1.0/teams/{team}/channels/{quote(channel)}"
                                     f"/messages?$top={top}&$skiptoken={skip + top}")
    return 200, answer
