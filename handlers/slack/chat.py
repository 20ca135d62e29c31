"""The Slack chat port: posts, DMs and edits through the Web API, errors in our words.

slack_sdk's own retry handlers are off: the outbox delivery owns retries, pacing
and ordering. Tokens and message text never reach the logs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import ChatError
from bot.messages import Message
from bot.ports import MessageRef
from handlers.slack.blocks import render

PERMANENT = {
    "not_in_channel": "oscbot is not in that channel; invite it with /invite @oscbot",
    "channel_not_found": "the channel does not exist or oscbot cannot see it",
    "users_not_found": "nobody in Slack has that email",
    "invalid_auth": "the Slack token is invalid (check SLACK_BOT_TOKEN)",
    "account_inactive": "the Slack token belongs to a deactivated app or user",
    "not_authed": "no Slack token was sent (check SLACK_BOT_TOKEN)",
    "msg_too_long": "the message is too long for Slack",
    "is_archived": "the channel is archived",
}


METADATA_EVENT = "oscbot_outbox"
HISTORY_PAGES = 5
USER_TTL = 3600.0


class SlackChat:
    """ChatPort on the Slack Web API."""

    def __init__(self, *, token: str | Callable[[], str], api_url: str,
                 names: Mapping[str, str], user_ids: Mapping[str, str] | None = None,
                 timeout: int = 10,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        # A callable token is read per call: a workspace installed through OAuth.
        self._token = token
        self._api_url = api_url
        self._timeout = timeout
        self._clients: dict[str, WebClient] = {}
        self._names = dict(names)
        self._user_ids: dict[str, str | None] = dict(user_ids or {})
        self._dm_channels: dict[str, str] = {}
        self._lock = threading.Lock()
        # Slack rate-limits per method: after a 429, calls to that method wait out its
        # Retry-After here instead of hammering Slack from every delivery thread.
        self._paused_until: dict[str, float] = {}
        self._monotonic = monotonic
        # When each looked-up id was fetched; ids from app.yaml never expire.
        self._looked_up: dict[str, float] = {}

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """chat.postMessage into a channel, the outbox key riding along as message metadata."""
        text, blocks = self._render(message)
        metadata = ({"event_type": METADATA_EVENT, "event_payload": {"key": key}}
                    if key is not None else None)
        answer = self._call("chat.postMessage", channel=channel, text=text, blocks=blocks,
                            unfurl_links=False, metadata=metadata)
        return MessageRef(channel=str(answer["channel"]), id=str(answer["ts"]))

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """A DM: look the person up, open the conversation, post."""
        return self.post(channel=self.dm_channel(email), message=message, key=key)

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """Look for the key in the conversation's history since `since` (conversations.history
        with include_all_metadata), newest first, a few pages at most."""
        conversation = channel if channel is not None else self.dm_channel(email or "")
        cursor = ""
        for _ in range(HISTORY_PAGES):
            args: dict[str, object] = {"channel": conversation, "include_all_metadata": "true",
                                       "oldest": f"{since.timestamp():.6f}", "limit": 200}
            if cursor:
                args["cursor"] = cursor
            answer = self._call("conversations.history", form=True, **args)
            for found in answer.get("messages") or []:
                metadata = found.get("metadata") or {}
                if (metadata.get("event_type") == METADATA_EVENT
                        and (metadata.get("event_payload") or {}).get("key") == key):
                    return MessageRef(channel=conversation, id=str(found["ts"]))
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not answer.get("has_more") or not cursor:
                return None
        raise ChatError(f"Slack history of a conversation is longer than {HISTORY_PAGES} pages "
                        "since the message was first tried", transient=True)

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """chat.update an earlier message in place."""
        text, blocks = self._render(message)
        self._call("chat.update", channel=ref.channel, ts=ref.id, text=text, blocks=blocks)

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """files.getUploadURLExternal, the upload, files.completeUploadExternal."""
        try:
            answer = self._client.files_upload_v2(channel=channel, content=content,
                                                  filename=filename, title=title)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response else ""
            raise ChatError(f"Slack file upload: {PERMANENT.get(error, error)}",
                            transient=exc.response.status_code >= 500) from None
        except (SlackClientError, OSError) as exc:
            raise ChatError(f"Slack file upload: {type(exc).__name__}", transient=True) from None
        files = answer.get("files") or [{}]
        return MessageRef(channel=channel, id=str(files[0].get("id", "")))

    def user_id(self, email: str) -> str | None:
        """The Slack id of a person, looked up by email and cached for an hour.

        A miss is never cached: someone who joins Slack later is found on the next try.
        """
        key = email.lower()
        now = self._monotonic()
        with self._lock:
            if key in self._user_ids and self._looked_up.get(key, now) > now - USER_TTL:
                return self._user_ids[key]
        try:
            answer = self._call("users.lookupByEmail", email=key)
        except ChatError as exc:
            if exc.transient:
                raise
            return None
        found = str(answer["user"]["id"])
        with self._lock:
            self._user_ids[key] = found
            self._looked_up[key] = now
        return found

    def dm_channel(self, email: str) -> str:
        """The DM channel id with a person (conversations.open, cached)."""
        with self._lock:
            cached = self._dm_channels.get(email)
        if cached:
            return cached
        user = self.user_id(email)
        if user is None:
            raise ChatError(f"no Slack account found for {self._names.get(email, 'a person')}")
        channel = str(self._call("conversations.open", users=user)["channel"]["id"])
        with self._lock:
            self._dm_channels[email] = channel
        return channel

    def _render(self, message: Message) -> tuple[str, list[dict[str, object]]]:
        return render(message, user_id_for=self._cached_user_id,
                      name_for=lambda e: self._names.get(e, e))

    def _cached_user_id(self, email: str) -> str | None:
        try:
            return self.user_id(email)
        except ChatError:
            return None

    @property
    def _client(self) -> WebClient:
        token = self._token if isinstance(self._token, str) else self._token()
        with self._lock:
            if token not in self._clients:
                self._clients[token] = WebClient(token=token, base_url=self._api_url,
                                                 timeout=self._timeout, retry_handlers=[])
            return self._clients[token]

    def _call(self, method: str, form: bool = False, **args: object) -> dict[str, Any]:
        """One Web API call; `form` sends form fields, for read methods that take no JSON."""
        args = {k: v for k, v in args.items() if v is not None}
        with self._lock:
            wait = self._paused_until.get(method, 0.0) - self._monotonic()
        if wait > 0:
            raise ChatError(f"Slack rate limit on {method}", transient=True, retry_after=wait)
        try:
            response = (self._client.api_call(method, data={k: _form(v) for k, v in args.items()})
                        if form else self._client.api_call(method, json=args))
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if exc.response else ""
            if status == 429:
                retry = float(exc.response.headers.get("Retry-After", "1"))
                with self._lock:
                    self._paused_until[method] = self._monotonic() + retry
                raise ChatError(f"Slack rate limit on {method}", transient=True,
                                retry_after=retry) from None
            if status >= 500:
                raise ChatError(f"Slack {method}: HTTP {status}", transient=True,
                                maybe_sent=True) from None
            raise ChatError(f"Slack {method}: {PERMANENT.get(error, error or status)}") from None
        except (SlackClientError, OSError) as exc:
            # The request may have reached Slack before the connection failed or timed out.
            raise ChatError(f"Slack {method}: network error ({type(exc).__name__})",
                            transient=True, maybe_sent=True) from None
        return dict(response.data) if isinstance(response.data, dict) else {}


def _form(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
