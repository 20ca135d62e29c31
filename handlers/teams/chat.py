"""The Teams chat port: posts, 1:1 messages and edits through the Bot Connector, via the
Teams SDK's API client.

The outbox owns retries and order: the SDK does not retry, and every refusal
becomes a `ChatError` saying whether a retry may help (429 with its Retry-After,
412/5xx, network) or not. Pacing stays inside Teams' per-thread limits (7 per
second, 60 per 30 seconds): a short wait is slept, a long one is handed back to
the outbox as a retry time so other conversations keep moving. The SDK is async;
this port is called from delivery threads, so it runs its own event loop thread.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
from microsoft_teams.api.activities import MessageActivityInput
from microsoft_teams.api.auth.credentials import TokenProviderProtocol
from microsoft_teams.api.clients import ApiClient
from microsoft_teams.api.clients.conversation.params import CreateConversationParams
from microsoft_teams.api.models import Account, Attachment
from microsoft_teams.common import Client, ClientOptions
from microsoft_teams.common.http.client_token import resolve_token

from bot.errors import ChatError, retry_after_seconds
from bot.messages import Message
from bot.ports.chat import ConversationKind, ConversationRef, ConversationRefRepository, MessageRef
from bot.ports.clock import Clock
from handlers.teams.cards import CARD_CONTENT_TYPE, Mentionable, card, render
from handlers.teams.history import GRAPH_SCOPE, GraphHistory, HistoryUnavailable, with_marker
from handlers.teams.pacing import TEAMS_LIMITS, Loop, Pacer

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE = {412, 500, 502, 503, 504}
MAX_INLINE_IMAGE = 20_000
ROSTER_TTL = 600.0


def unreachable_advice(name: str) -> str:
    """What a manager should do when oscbot cannot message someone on Teams."""
    return (f"oscbot cannot message {name} on Teams: they are not a member of the team "
            "where oscbot is installed, or their Teams account has another email. "
            "Add them to the team (or install oscbot for them from the Teams app store: "
            "Apps → Built for your org → oscbot → Add), check their email in app.yaml, "
            "then their messages go out on the next delivery.")


@dataclass(frozen=True)
class Member:
    """A team member as the roster lists them."""

    id: str
    name: str
    email: str
    aad_object_id: str | None


class TeamsChat:
    """ChatPort on the Bot Connector (Teams SDK API client)."""

    def __init__(self, *, refs: ConversationRefRepository, clock: Clock, service_url: str,
                 tenant_id: str, bot_id: str, names: dict[str, str],
                 channel: str = "", token_provider: TokenProviderProtocol | None = None,
                 limits: tuple[tuple[int, float], ...] = TEAMS_LIMITS,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 10.0,
                 max_sleep: float = 1.0, history: GraphHistory | None = None) -> None:
        self._refs = refs
        self._clock = clock
        self._service_url = service_url.rstrip("/")
        self._tenant_id = tenant_id
        self._bot_id = bot_id
        self._names = dict(names)
        self._channel = channel
        self._token_provider = token_provider
        self._pacer = Pacer(limits)
        self._sleep = sleep
        self._timeout = timeout
        self._max_sleep = max_sleep
        self._loop = Loop()
        self._clients: dict[str, ApiClient] = {}
        self._roster: dict[str, tuple[float, dict[str, Member]]] = {}
        self._sent_keys: OrderedDict[str, MessageRef] = OrderedDict()
        self._lock = threading.Lock()
        # One send at a time per Teams conversation, so the pacer's count is never raced.
        self._threads: dict[str, threading.Lock] = {}
        self._groups: dict[str, str] = {}
        self.history = history
        # The composition root points this at the notifier: a manager alert, never silence.
        self.on_unreachable: Callable[[str, str], None] | None = None

    def use_token_provider(self, provider: TokenProviderProtocol | None) -> None:
        """Send with the Teams app's bot tokens (None in local, unauthenticated mode)."""
        with self._lock:
            self._token_provider = provider
            self._clients.clear()

    @property
    def refs(self) -> ConversationRefRepository:
        """Where this port finds (and stores) conversations."""
        return self._refs

    # --- ChatPort -------------------------------------------------------------

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """Post a card in the team channel (or the channel with this conversation id)."""
        ref = self.channel_ref(channel)
        return self._remember(key, self._send(ref, self._activity(message, key)))

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """A 1:1 message: the stored chat, else one opened with the roster member."""
        return self._remember(key, self._send(self.personal_ref(email),
                                              self._activity(message, key)))

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """A message sent under `key`, or None.

        Channel posts are looked up in Microsoft Graph by the marker in their card (see
        handlers/teams/history.py). 1:1 chats cannot be searched there, so for them only
        sends this process saw accepted are known.
        """
        with self._lock:
            known = self._sent_keys.get(key)
        if known is not None or channel is None or self.history is None:
            return known
        try:
            ref = self.channel_ref(channel)
            team = ref.team_id or next((r.team_id for r in self._refs.channels() if r.team_id),
                                       None)
            if team is None:
                raise HistoryUnavailable("no team installed")
            group = self._group_id(team, ref.service_url)
            found = self.history.find_in_channel(
                group_id=group, channel_id=ref.conversation_id.split(";")[0], key=key,
                since=since)
        except HistoryUnavailable as exc:
            # Without the channel's history the message is sent again (at most one repeat).
            log.warning("cannot look up an unsure Teams post in Microsoft Graph (%s): grant "
                        "the app's ChannelMessage.Read.Group consent (reinstall it in the "
                        "team)", exc)
            return None
        return None if found is None else MessageRef(channel=ref.conversation_id, id=found)

    def _group_id(self, team_id: str, service_url: str) -> str:
        """The team's Microsoft 365 group id, which Graph addresses it by."""
        with self._lock:
            if team_id in self._groups:
                return self._groups[team_id]
        details = self._call("team details", self._client(service_url).teams.get_by_id(team_id))
        if not details.aad_group_id:
            raise HistoryUnavailable("the team has no group id")
        with self._lock:
            self._groups[team_id] = details.aad_group_id
        return details.aad_group_id

    def graph_token(self) -> str | None:
        """An app-only Microsoft Graph token (None in local, unauthenticated mode)."""
        provider = self._token_provider
        if provider is None:
            return None
        tenant = self._tenant_id or None
        return self._loop.run(resolve_token(
            lambda: provider.get_app_token(GRAPH_SCOPE, tenant)), self._timeout)

    def _remember(self, key: str | None, ref: MessageRef) -> MessageRef:
        if key is not None:
            with self._lock:
                self._sent_keys[key] = ref
                while len(self._sent_keys) > 10_000:
                    self._sent_keys.popitem(last=False)
        return ref

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """Replace an earlier card in place (PUT the activity)."""
        conversation = self._refs.get(ref.channel)
        service_url = conversation.service_url if conversation else self._service_url
        with self._thread(ref.channel):
            self._pace(ref.channel)
            self._call(f"update in {ref.channel[:12]}…", self._client(service_url).conversations
                       .update_activity(ref.channel, ref.id, self._activity(message)))
            self._pacer.record(ref.channel)

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """A chart: inline in a card when small enough, else a pointer to the report."""
        body: list[dict[str, Any]] = [{"type": "TextBlock", "text": title, "weight": "Bolder",
                                       "wrap": True}]
        if len(content) <= MAX_INLINE_IMAGE and filename.endswith(".png"):
            data = base64.b64encode(content).decode()
            body.append({"type": "Image", "url": f"data:image/png;base64,{data}",
                         "altText": title})
        else:
            body.append({"type": "TextBlock", "wrap": True, "text":
                         "The chart is too large for a Teams card; run `oscbot report` "
                         "for the full CSV."})
        activity = MessageActivityInput(attachments=[
            Attachment(content_type=CARD_CONTENT_TYPE, content=card(body))])
        return self._send(self.channel_ref(channel), activity)

    # --- where messages go ----------------------------------------------------

    def channel_ref(self, channel: str) -> ConversationRef:
        """The channel to post in: a stored conversation id, else where oscbot was installed."""
        stored = self._refs.get(channel)
        if stored is not None:
            return stored
        channels = [r for r in self._refs.channels() if r.tenant_id == self._tenant_id
                    or not self._tenant_id]
        if channel.startswith("19:"):
            return ConversationRef(conversation_id=channel, service_url=self._service_url,
                                   tenant_id=self._tenant_id, kind=ConversationKind.CHANNEL)
        if not channels:
            raise ChatError("oscbot is not installed in a Teams team yet: add the app to the "
                            "team (Apps → Manage your apps → Upload an app → oscbot → Add to "
                            "a team) so it knows the channel to post in")
        return channels[0]

    def personal_ref(self, email: str) -> ConversationRef:
        """The 1:1 chat with a person, opened through the Bot Connector when new."""
        stored = self._refs.personal(email)
        if stored is not None:
            return stored
        team = next((r for r in self._refs.channels() if r.team_id), None)
        if team is None or team.team_id is None:
            raise ChatError("oscbot is not installed in a Teams team yet, so it cannot find "
                            f"{self._names.get(email, 'a person')} in a roster")
        member = self.member(email)
        if member is None:
            reason = unreachable_advice(self._names.get(email, email))
            if self.on_unreachable is not None:
                self.on_unreachable(email, reason)
            raise ChatError(reason)
        params = CreateConversationParams(
            members=[Account(id=member.id)], tenant_id=team.tenant_id,
            channel_data={"tenant": {"id": team.tenant_id}},
            bot=Account(id=self._bot_id), isGroup=False)
        created = self._call("create conversation",
                             self._client(team.service_url).conversations.create(params))
        return self._refs.save(ConversationRef(
            conversation_id=created.id, service_url=team.service_url, tenant_id=team.tenant_id,
            kind=ConversationKind.PERSONAL, team_id=team.team_id,
            aad_object_id=member.aad_object_id, user_id=member.id, email=email.lower(),
            name=member.name, updated_at=self._clock.now()))

    def member(self, email: str) -> Member | None:
        """The team member with this email or UPN (roster read once per ten minutes)."""
        return self._members().get(email.lower())

    def email_of(self, aad_object_id: str) -> str | None:
        """The email of the team member with this AAD object id (roster re-read if unknown)."""
        for fresh in (False, True):
            found = next((m.email for m in self._members(fresh=fresh).values()
                          if m.aad_object_id == aad_object_id), None)
            if found is not None:
                return found
        return None

    def _members(self, *, fresh: bool = False) -> dict[str, Member]:
        team = next((r for r in self._refs.channels() if r.team_id), None)
        if team is None or team.team_id is None:
            return {}
        with self._lock:
            cached = self._roster.get(team.team_id)
        # A forced re-read still waits a few seconds: an unknown sender must not hammer it.
        age = time.monotonic() - cached[0] if cached else ROSTER_TTL + 1
        if age > ROSTER_TTL or (fresh and age > 5):
            members = self._call("roster", self._client(team.service_url).conversations
                                 .members_client.get(team.team_id))
            by_email: dict[str, Member] = {}
            for m in members:
                for address in (m.email, m.user_principal_name):
                    if address:
                        by_email[address.lower()] = Member(m.id, m.name or "", address.lower(),
                                                           m.aad_object_id)
            cached = (time.monotonic(), by_email)
            with self._lock:
                self._roster[team.team_id] = cached
        assert cached is not None
        return cached[1]

    def mentionable(self, email: str) -> Mentionable:
        """How to mention a person: their AAD object id when known, else their UPN."""
        name = self._names.get(email, email)
        stored = self._refs.personal(email)
        if stored is not None and stored.aad_object_id:
            return Mentionable(stored.aad_object_id, name)
        with self._lock:
            for _, members in self._roster.values():
                found = members.get(email)
                if found is not None and found.aad_object_id:
                    return Mentionable(found.aad_object_id, name)
        return Mentionable(email, name)

    # --- sending ----------------------------------------------------------------

    def _activity(self, message: Message, key: str | None = None) -> MessageActivityInput:
        _, content = render(message, resolve=self.mentionable)
        if key is not None:
            content = with_marker(content, key)
        return MessageActivityInput(attachments=[
            Attachment(content_type=CARD_CONTENT_TYPE, content=content)])

    def _send(self, ref: ConversationRef, activity: MessageActivityInput) -> MessageRef:
        with self._thread(ref.conversation_id):
            self._pace(ref.conversation_id)
            sent = self._call("send", self._client(ref.service_url).conversations
                              .create_activity(ref.conversation_id, activity))
            self._pacer.record(ref.conversation_id)
        return MessageRef(channel=ref.conversation_id, id=sent.id)

    def _thread(self, conversation: str) -> threading.Lock:
        with self._lock:
            return self._threads.setdefault(conversation, threading.Lock())

    def _pace(self, conversation: str) -> None:
        wait = self._pacer.wait(conversation)
        if wait > self._max_sleep:
            raise ChatError("Teams per-conversation limit reached; waiting", transient=True,
                            retry_after=wait)
        if wait > 0:
            self._sleep(wait)

    def _client(self, service_url: str) -> ApiClient:
        with self._lock:
            if service_url not in self._clients:
                http = Client(ClientOptions(timeout=self._timeout))
                self._clients[service_url] = ApiClient(service_url, http,
                                                       token_provider=self._token_provider)
            return self._clients[service_url]

    def _call(self, what: str, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._loop.run(coro, self._timeout)
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status == 429:
                retry = retry_after_seconds(exc.response.headers.get("Retry-After"))
                raise ChatError(f"Teams rate limit on {what}", transient=True,
                                retry_after=retry) from None
            if status in RETRYABLE:
                # A 5xx may come after Teams accepted the activity: it may be there.
                raise ChatError(f"Teams {what}: HTTP {status}", transient=True,
                                maybe_sent=status >= 500) from None
            raise ChatError(f"Teams {what}: {_refusal(status)}") from None
        except (httpx.TimeoutException, httpx.RemoteProtocolError, TimeoutError) as exc:
            # The request went out and no answer came back: Teams may have acted on it.
            raise ChatError(f"Teams {what}: no answer ({type(exc).__name__})", transient=True,
                            maybe_sent=not isinstance(exc, httpx.ConnectTimeout)) from None
        except (httpx.TransportError, OSError) as exc:
            raise ChatError(f"Teams {what}: network error ({type(exc).__name__})",
                            transient=True) from None


def _refusal(status: int) -> str:
    return {
        400: "the Bot Connector refused the message (HTTP 400)",
        401: "Teams refused the bot's credentials (check TEAMS_CLIENT_ID/SECRET/TENANT_ID)",
        403: "the bot may not post there (removed from the team, or the user blocked it)",
        404: "the conversation no longer exists (the app was removed?)",
        413: "the message is too large for Teams",
    }.get(status, f"HTTP {status}")
