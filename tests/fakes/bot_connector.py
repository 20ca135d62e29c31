"""A local fake of the Bot Connector (Teams' side of a bot) over real HTTP, strict like Teams:

- `POST /v3/conversations` opens a 1:1 chat with one roster member of a known tenant;
- `POST /v3/conversations/{id}/activities` only into known conversations, Adaptive
  Cards of version 1.4 or later, buttons only as `Action.Execute`, every `<at>` tag
  declared as a mention entity, activities under 28 KB;
- `PUT …/activities/{activityId}` only for activities it created;
- `GET /v3/conversations/{id}/members` the team roster;
- `GET /v3/teams/{id}` the team's details (its Microsoft 365 group id);
- per-thread limits (7/s, 60/30 s by default) answered with 429 + Retry-After, and
  failures injected on demand (`fail_next`, or planned by request number: `fail_at`), or
  an answer held back after the activity was accepted (`stall_next`: a client timeout).

Microsoft Graph's channel messages endpoint shows what was sent (tests/fakes/teams_graph.py),
under `url + "/v1.0"`.

It also builds the activities Teams sends to a bot (install, message, dialog, card
action) and posts them to the bot's messaging endpoint.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx

from tests.fakes.server import LoopbackServer, send_json
from tests.fakes.teams_graph import TEAM_GROUP_ID, graph_get

TENANT = "tenant-riverside"
BOT_ID = "28:oscbot-app-id"
TEAM_ID = "19:team-general@thread.tacv2"
MAX_ACTIVITY_BYTES = 28_000
_AT = re.compile(r"<at>.*?</at>")
_ACTIVITIES = re.compile(r"^/v3/conversations/([^/]+)/activities/?([^/]*)$")
_MEMBERS = re.compile(r"^/v3/conversations/([^/]+)/members$")


@dataclass
class Conversation:
    """A conversation the fake knows: a channel or a 1:1 chat."""

    id: str
    kind: str
    member: str | None = None
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    created: dict[str, float] = field(default_factory=dict)
    modified: dict[str, float] = field(default_factory=dict)


@dataclass
class RosterMember:
    """A person in the team's roster."""

    id: str
    name: str
    email: str
    aad_object_id: str


class FakeBotConnector(LoopbackServer):
    """`with FakeBotConnector() as teams:`; point the bot's service URL at `teams.url`."""

    def __init__(self, *, limits: tuple[tuple[int, float], ...] = ((7, 1.0), (60, 30.0)),
                 tenant: str = TENANT) -> None:
        self.tenant = tenant
        self.limits = limits
        self.conversations: dict[str, Conversation] = {
            TEAM_ID: Conversation(TEAM_ID, "channel")}
        self.roster: dict[str, RosterMember] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.refused: list[tuple[str, str]] = []
        self.arrivals: list[tuple[str, float, str]] = []
        self._failures: deque[tuple[int, float]] = deque()
        self._planned: dict[int, tuple[int, float]] = {}
        self._attempts = 0
        self._sent_at: dict[str, deque[float]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._stalls: deque[float] = deque()
        self.graph_requests: list[str] = []
        self.app_id = BOT_ID.removeprefix("28:")
        self.lock = self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def attempts(self) -> int:
        """Activity sends and updates received so far (failures included)."""
        return self._attempts

    def stall_next(self, seconds: float, times: int = 1) -> None:
        """Accept the next `times` activity sends, then hold the answer back `seconds`."""
        with self._lock:
            self._stalls.extend([seconds] * times)

    @property
    def url(self) -> str:
        """The service URL (no trailing slash)."""
        return self.base

    def add_member(self, email: str, name: str) -> RosterMember:
        """Someone in the team's roster (reachable for a 1:1 chat)."""
        n = len(self.roster) + 1
        member = RosterMember(f"29:user-{n}", name, email, f"00000000-0000-0000-0000-{n:012d}")
        self.roster[email.lower()] = member
        return member

    def fail_next(self, status: int, times: int = 1, retry_after: float = 0.2) -> None:
        """Answer the next `times` activity sends/updates with `status`."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def fail_at(self, plan: dict[int, int], retry_after: float = 0.2) -> None:
        """Answer the n-th activity send/update (counting from 1) with the planned status."""
        with self._lock:
            self._planned.update({n: (status, retry_after) for n, status in plan.items()})

    def messages(self, conversation: str) -> list[dict[str, Any]]:
        """The activities now in a conversation (edits applied), in the order created."""
        conv = self.conversations.get(conversation)
        return [conv.activities[i] for i in conv.order] if conv else []

    def chat_with(self, email: str) -> Conversation | None:
        """The 1:1 chat opened with a roster member, if any."""
        member = self.roster.get(email.lower())
        return next((c for c in self.conversations.values()
                     if member and c.kind == "personal" and c.member == member.id), None)

    def count(self, method: str, pattern: str) -> int:
        """How many requests matched method and a path regex (failures included)."""
        return sum(1 for m, p, _ in self.requests if m == method and re.search(pattern, p))

    # --- activities Teams sends to the bot ------------------------------------

    def base_activity(self, *, kind: str, conversation: str, user: RosterMember | None,
                      conversation_type: str = "channel", tenant: str | None = None,
                      **extra: Any) -> dict[str, Any]:
        """The envelope every inbound activity shares."""
        tenant = tenant or self.tenant
        activity: dict[str, Any] = {
            "type": kind, "id": f"in-{next(self._ids)}", "channelId": "msteams",
            "serviceUrl": self.url, "timestamp": "2026-11-30T14:00:00.000Z",
            "from": ({"id": user.id, "name": user.name, "aadObjectId": user.aad_object_id}
                     if user else {"id": "29:admin", "name": "Admin"}),
            "recipient": {"id": BOT_ID, "name": "oscbot"},
            "conversation": {"id": conversation, "conversationType": conversation_type,
                             "tenantId": tenant, "isGroup": conversation_type != "personal"},
            "channelData": {"tenant": {"id": tenant}},
        }
        if conversation_type == "channel":
            activity["channelData"]["team"] = {"id": TEAM_ID, "name": "Online sales"}
            activity["channelData"]["channel"] = {"id": conversation}
        activity.update(extra)
        return activity

    def install(self, *, tenant: str | None = None) -> dict[str, Any]:
        """The conversationUpdate Teams sends when the app is added to the team."""
        return self.base_activity(
            kind="conversationUpdate", conversation=TEAM_ID, user=None, tenant=tenant,
            membersAdded=[{"id": BOT_ID}],
            channelData={"tenant": {"id": tenant or self.tenant}, "eventType": "teamMemberAdded",
                         "team": {"id": TEAM_ID, "name": "Online sales"}})

    def message(self, text: str, *, user: RosterMember, personal: bool = False,
                tenant: str | None = None) -> dict[str, Any]:
        """A message to the bot: in its 1:1 chat, or in the channel with an @mention."""
        if personal:
            # Writing to the bot opens (or reuses) the 1:1 chat, as in Teams.
            chat = self.chat_with(user.email) or Conversation(f"a:chat-{user.id}", "personal",
                                                              user.id)
            self.conversations[chat.id] = chat
            conversation = chat.id
            return self.base_activity(kind="message", conversation=conversation, user=user,
                                      conversation_type="personal", tenant=tenant, text=text)
        mention = "<at>oscbot</at>"
        return self.base_activity(
            kind="message", conversation=TEAM_ID, user=user, tenant=tenant,
            text=f"{mention} {text}",
            entities=[{"type": "mention", "text": mention,
                       "mentioned": {"id": BOT_ID, "name": "oscbot"}}])

    def invoke(self, name: str, value: dict[str, Any], *, user: RosterMember,
               conversation: str = TEAM_ID, reply_to: str | None = None) -> dict[str, Any]:
        """An invoke: task/fetch, task/submit or adaptiveCard/action."""
        kind = "personal" if conversation.startswith("a:") else "channel"
        extra: dict[str, Any] = {"name": name, "value": value}
        if reply_to:
            extra["replyToId"] = reply_to
        return self.base_activity(kind="invoke", conversation=conversation, user=user,
                                  conversation_type=kind, **extra)

    # --- the HTTP side --------------------------------------------------------

    def _limited(self, conversation: str) -> float:
        now = time.monotonic()
        sent = self._sent_at[conversation]
        for count, window in self.limits:
            recent = [t for t in sent if t > now - window]
            if len(recent) >= count:
                return recent[-count] + window - now
        sent.append(now)
        while len(sent) > 200:
            sent.popleft()
        return 0.0

    def _check_activity(self, body: dict[str, Any]) -> str | None:
        if len(json.dumps(body)) > MAX_ACTIVITY_BYTES:
            return "MessageSizeTooBig"
        if body.get("type") != "message":
            return "BadArgument: type"
        for attachment in body.get("attachments") or []:
            if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
                return "BadArgument: contentType"
            content = attachment.get("content") or {}
            if tuple(int(x) for x in str(content.get("version", "0")).split(".")) < (1, 4):
                return "BadArgument: universal actions need card version 1.4+"
            for action in content.get("actions") or []:
                opens_dialog = ((action.get("data") or {}).get("msteams") or {}).get(
                    "type") == "task/fetch"
                if action.get("type") != "Action.Execute" and not (
                        action.get("type") == "Action.Submit" and opens_dialog):
                    return f"BadArgument: {action.get('type')} is not a universal action"
            declared = {e["text"] for e in (content.get("msteams") or {}).get("entities", [])
                        if e.get("type") == "mention"}
            for tag in _AT.findall(json.dumps(content.get("body"), ensure_ascii=False)):
                if tag not in declared:
                    return f"BadArgument: {tag} is not a declared mention"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the real connector: no new TCP connection per message.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                return data if isinstance(data, dict) else {}

            def _answer(self, status: int, body: Any, retry_after: float | None = None) -> None:
                fake.requests.append((self.command, self.path, status))
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after else None
                send_json(self, status, body, headers)

            def _refuse(self, status: int, reason: str) -> None:
                fake.refused.append((self.path, reason))
                self._answer(status, {"error": {"code": reason.split(":")[0],
                                                "message": reason}})

            def do_GET(self) -> None:
                if self.path.startswith("/v1.0/"):
                    status, answer = graph_get(fake, self.path)
                    self._answer(status, answer)
                    return
                if self.path.rstrip("/") == f"/v3/teams/{TEAM_ID}":
                    self._answer(200, {"id": TEAM_ID, "name": "Online sales",
                                       "aadGroupId": TEAM_GROUP_ID, "type": "standard"})
                    return
                match = _MEMBERS.match(self.path)
                if not match or match.group(1) != TEAM_ID:
                    self._refuse(404, "ConversationNotFound")
                    return
                self._answer(200, [{"id": m.id, "name": m.name, "email": m.email,
                                    "userPrincipalName": m.email, "aadObjectId":
                                    m.aad_object_id, "tenantId": fake.tenant}
                                   for m in fake.roster.values()])

            def do_POST(self) -> None:
                body = self._body()
                if self.path.rstrip("/") == "/v3/conversations":
                    self._create(body)
                    return
                match = _ACTIVITIES.match(self.path)
                if not match or match.group(2):
                    self._refuse(404, "NotFound")
                    return
                self._activity(match.group(1), None, body)

            def do_PUT(self) -> None:
                body = self._body()
                match = _ACTIVITIES.match(self.path)
                if not match or not match.group(2):
                    self._refuse(404, "NotFound")
                    return
                self._activity(match.group(1), match.group(2), body)

            def _create(self, body: dict[str, Any]) -> None:
                tenant = body.get("tenantId") or (body.get("channelData") or {}).get(
                    "tenant", {}).get("id")
                members = body.get("members") or []
                known = {m.id for m in fake.roster.values()}
                if tenant != fake.tenant:
                    self._refuse(403, "Forbidden: tenant")
                elif len(members) != 1 or members[0].get("id") not in known:
                    self._refuse(400, "BadArgument: member not in the roster")
                else:
                    with fake._lock:
                        existing = next((c for c in fake.conversations.values()
                                         if c.member == members[0]["id"]), None)
                        conv = existing or Conversation(f"a:chat-{members[0]['id']}",
                                                        "personal", members[0]["id"])
                        fake.conversations[conv.id] = conv
                    self._answer(201, {"id": conv.id})

            def _activity(self, conversation: str, activity_id: str | None,
                          body: dict[str, Any]) -> None:
                stall = 0.0
                with fake._lock:
                    conv = fake.conversations.get(conversation)
                    if conv is None:
                        self._refuse(404, "ConversationNotFound")
                        return
                    fake._attempts += 1
                    planned = fake._planned.pop(fake._attempts, None)
                    if planned is not None:
                        fake._failures.appendleft(planned)
                    if fake._failures:
                        status, retry = fake._failures.popleft()
                        self._answer(status, {"error": {"code": "Injected"}},
                                     retry if status == 429 else None)
                        return
                    wait = fake._limited(conversation)
                    if wait > 0:
                        fake.refused.append((self.path, "ThrottledByThreadLimit"))
                        self._answer(429, {"error": {"code": "Throttled"}}, max(wait, 0.01))
                        return
                    problem = fake._check_activity(body)
                    if problem:
                        self._refuse(413 if problem == "MessageSizeTooBig" else 400, problem)
                        return
                    if activity_id is None:
                        activity_id = f"1:{next(fake._ids)}"
                        conv.order.append(activity_id)
                    elif activity_id not in conv.activities:
                        self._refuse(404, "ActivityNotFound")
                        return
                    conv.activities[activity_id] = {**body, "id": activity_id}
                    now = time.time()
                    conv.created.setdefault(activity_id, now)
                    conv.modified[activity_id] = now
                    fake.arrivals.append((conversation, now, activity_id))
                    stall = fake._stalls.popleft() if fake._stalls else 0.0
                if stall:
                    time.sleep(stall)
                # A stalled client may have given up waiting: the activity is in Teams anyway.
                with contextlib.suppress(OSError):
                    self._answer(201 if self.command == "POST" else 200, {"id": activity_id})

        return Handler


def post_activity(endpoint: str, activity: dict[str, Any],
                  token: str | None = None) -> httpx.Response:
    """Send an activity to a bot's messaging endpoint as Teams would."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(endpoint, json=activity, headers=headers, timeout=15)


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card inside a sent activity."""
    content: dict[str, Any] = activity["attachments"][0]["content"]
    return content


def card_text(activity: dict[str, Any]) -> str:
    """Every TextBlock and fact of a card, one per line."""
    lines: list[str] = []
    for item in card_of(activity).get("body", []):
        if item.get("type") == "TextBlock":
            lines.append(item["text"])
        elif item.get("type") == "FactSet":
            lines.extend(f"{f['title']}: {f['value']}" for f in item["facts"])
    return "\n".join(lines)
