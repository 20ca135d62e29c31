"""The Slack chat port: posts, DMs and edits through the Web API, errors in our words.

slack_sdk's own retry handlers are off: the outbox delivery owns retries, pacing
and ordering. Tokens and message text never reach the logs.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from bot.errors import ChatError, retry_after_seconds
from bot.messages import Message
from bot.ports.chat import MessageRef
from handlers.slack.blocks import render

PERMANENT = {
    "not_in_channel": "oscbot is not in that channel; invite it with /invite @oscbot",
    "channel_not_found": "the channel does not exist or oscbot cannot see it (use the "
                         "channel id, or invite oscbot to the private channel)",
    "users_not_found": "nobody in Slack has that email",
    "user_not_found": "Slack does not know that user",
    "invalid_auth": "the Slack token is invalid (check SLACK_BOT_TOKEN)",
    "account_inactive": "the Slack token belongs to a deactivated app or user",
    "token_revoked": "the Slack token was revoked; reinstall the app",
    "not_authed": "no Slack token was sent (check SLACK_BOT_TOKEN)",
    "missing_scope": "the Slack app lacks a permission (scope); reinstall it from "
                     "manifest.yaml",
    "msg_too_long": "the message is too long for Slack",
    "no_text": "the message has no fallback text",
    "invalid_blocks": "Slack refused the message's blocks",
    "invalid_blocks_format": "the message's blocks are not valid JSON blocks",
    "message_not_found": "the message to edit no longer exists",
    "cant_update_message": "oscbot may only edit its own messages",
    "edit_window_closed": "the message is too old to edit",
    "is_archived": "the channel is archived",
    "restricted_action": "a workspace setting stops oscbot from posting there",
    "invalid_arguments": "Slack refused the request's arguments",
}
# Errors Slack answers with HTTP 200 that still mean "try again later".
TRANSIENT = {"ratelimited", "internal_error", "fatal", "service_unavailable",
             "request_timeout", "team_added_to_org"}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# How long a person's Slack id, found by email, is trusted: an email that moves to
# another account (a rehire, a renamed user) is picked up within the hour. A person
# Slack did not find is never kept: the next message asks again (they may have joined).
USER_TTL = 3600.0
# Slack limits these per method for the whole workspace (Tier 3, 50+ per minute), not
# per channel: a 429 on them holds every DM that needs them, in every replica.
SHARED_LIMITS = {"users.lookupByEmail": "direct", "conversations.open": "direct",
                 "conversations.history": "lookup"}
# chat.postMessage and chat.update are limited per channel (about one message a second):
# a 429 holds that channel only (the outbox paces it by Retry-After).
PER_CHANNEL = {"chat.postMessage", "chat.update"}
# The outbox key rides on every message as metadata of this type (see find_sent).
METADATA_EVENT = "oscbot_outbox"
HISTORY_PAGES = 5
# A rate limit met mid-lookup is waited out, up to this long and this often per lookup,
# and the lookup goes on from the page it was on.
HISTORY_WAIT = 10.0
HISTORY_RETRIES = 10


def refusal(method: str, status: int, body: Mapping[str, Any],
            headers: Mapping[str, str]) -> ChatError:
    """A Slack error answer as our ChatError: transient (429, 5xx, Slack's temporary
    errors) or permanent, with the payload's cause named (the json-pointer Slack gives)."""
    error = str(body.get("error", "")) or f"HTTP {status}"
    if status == 429 or error == "ratelimited":
        retry = retry_after_seconds(headers.get("Retry-After") or headers.get("retry-after"))
        return ChatError(f"Slack rate limit on {method}", transient=True, retry_after=retry,
                         code="ratelimited", scope=SHARED_LIMITS.get(method, ""))
    if status >= 500 or error in TRANSIENT:
        # A 5xx may come after Slack acted on the request: the message may be there.
        return ChatError(f"Slack {method}: {error} (temporary)", transient=True, code=error,
                         maybe_sent=status >= 500)
    details = [str(d) for d in body.get("errors") or ()]
    details += [str(m) for m in (body.get("response_metadata") or {}).get("messages") or ()]
    if body.get("needed"):
        details.append(f"needs the {body['needed']} scope")
    cause = f" — {'; '.join(dict.fromkeys(details))}" if details else ""
    return ChatError(f"Slack {method}: {PERMANENT.get(error, error)} ({error}){cause}",
                     code=error)


class SlackChat:
    """ChatPort on the Slack Web API."""

    def __init__(self, *, token: str | Callable[[], str], api_url: str,
                 names: Mapping[str, str], user_ids: Mapping[str, str] | None = None,
                 timeout: int = 10, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        # A callable token is read per call: a workspace installed through OAuth.
        self._token = token
        self._api_url = api_url
        self._timeout = timeout
        self._clients: dict[str, WebClient] = {}
        self._names = dict(names)
        # Ids from the configuration are facts; ids found by email expire (USER_TTL).
        self._configured: dict[str, str] = {k.lower(): v for k, v in (user_ids or {}).items()}
        self._found: dict[str, tuple[str, float]] = {}
        self._monotonic = monotonic
        self._sleep = sleep
        self._channels: dict[str, dict[str, Any]] = {}
        self._dm_channels: dict[str, str] = {}
        self._lock = threading.Lock()
        # After a 429 the calls it covers (the method, or the method in that channel)
        # wait out its Retry-After here instead of hammering Slack from every thread.
        self._paused_until: dict[str, float] = {}

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """chat.postMessage into a channel (given by id or name), the outbox key riding
        along as message metadata."""
        return self._post(self.channel_id(channel), message, key)

    def _post(self, channel: str, message: Message, key: str | None = None) -> MessageRef:
        text, blocks = self._render(message)
        metadata = ({"event_type": METADATA_EVENT, "event_payload": {"key": key}}
                    if key is not None else None)
        answer = self._call("chat.postMessage", channel=channel, text=text, blocks=blocks,
                            unfurl_links=False, unfurl_media=False, metadata=metadata)
        return MessageRef(channel=str(answer["channel"]), id=str(answer["ts"]))

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """A DM: look the person up, open the conversation, post."""
        return self._post(self.dm_channel(email), message, key)

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """Look for the key in the conversation's history since `since` (conversations.history
        with include_all_metadata), newest first, a few pages at most.

        A rate limit on a page is waited out (briefly) and the lookup resumes at that page:
        starting over would meet the limit at the same page again, and the conversation
        stays blocked behind a message whose fate is unknown."""
        conversation = (self.channel_id(channel) if channel is not None
                        else self.dm_channel(email or ""))
        cursor, pages, waited, retries = "", 0, 0.0, 0
        while pages < HISTORY_PAGES:
            args: dict[str, object] = {"channel": conversation, "include_all_metadata": "true",
                                       "oldest": f"{since.timestamp():.6f}", "limit": 200}
            if cursor:
                args["cursor"] = cursor
            try:
                answer = self._call("conversations.history", form=True, **args)
            except ChatError as exc:
                wait = exc.retry_after
                if (exc.code != "ratelimited" or wait is None or retries >= HISTORY_RETRIES
                        or waited + wait > HISTORY_WAIT):
                    raise
                self._sleep(wait)
                waited, retries = waited + wait, retries + 1
                continue
            pages += 1
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
        channel_id = self.channel_id(channel)
        try:
            answer = self._client.files_upload_v2(channel=channel_id, content=content,
                                                  filename=filename, title=title)
        except SlackApiError as exc:
            raise refusal("files upload", exc.response.status_code, _data(exc),
                          exc.response.headers) from None
        except (SlackClientError, OSError) as exc:
            raise ChatError(f"Slack file upload: {type(exc).__name__}", transient=True) from None
        files = answer.get("files") or [{}]
        return MessageRef(channel=channel_id, id=str(files[0].get("id", "")))

    def channel_id(self, channel: str) -> str:
        """The id of a channel given by id or by name (`#online-sales`), looked up once
        with conversations.list; Slack wants ids (file uploads accept nothing else)."""
        if _CHANNEL_ID.match(channel):
            return channel
        return str(self.find_channel(channel)["id"])

    def find_channel(self, channel: str) -> dict[str, Any]:
        """The channel's id, name and whether oscbot is a member (`is_member`)."""
        name = channel.removeprefix("#").lower()
        with self._lock:
            if name in self._channels:
                return self._channels[name]
        if _CHANNEL_ID.match(channel):
            found = dict(self._call("conversations.info", channel=channel)["channel"])
        else:
            found = self._list_channel(name)
        with self._lock:
            self._channels[name] = found
        return found

    def channel_problem(self, channel: str) -> str | None:
        """What stops oscbot posting in the team channel, in words for the admin, or None
        (checked at start-up so the first brief does not fail silently)."""
        try:
            found = self.find_channel(channel)
        except ChatError as exc:
            return f"team channel {channel}: {exc}"
        if not found.get("is_member"):
            return (f"oscbot is not in the team channel {channel} ({found['id']}); invite it "
                    f"there with /invite @oscbot")
        return None

    def _list_channel(self, name: str) -> dict[str, Any]:
        cursor = ""
        while True:
            page = self._call("conversations.list", types="public_channel,private_channel",
                              exclude_archived=True, limit=1000, cursor=cursor)
            for found in page.get("channels") or ():
                if str(found.get("name", "")).lower() == name:
                    return dict(found)
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                raise ChatError(f"Slack has no channel #{name} that oscbot can see; put the "
                                "channel id (C…) in app.yaml, or invite oscbot to it",
                                code="channel_not_found")

    def user_id(self, email: str) -> str | None:
        """The Slack id of a person, looked up by email; a found id is kept for USER_TTL
        seconds, a miss is not kept (the person may join the workspace any time)."""
        key = email.lower()
        with self._lock:
            if key in self._configured:
                return self._configured[key]
            found = self._found.get(key)
            if found is not None and self._monotonic() < found[1]:
                return found[0]
        try:
            answer = self._call("users.lookupByEmail", email=key)
        except ChatError as exc:
            if exc.transient:
                raise
            with self._lock:
                self._found.pop(key, None)
            return None
        user = str(answer["user"]["id"])
        with self._lock:
            self._found[key] = (user, self._monotonic() + USER_TTL)
        return user

    def dm_channel(self, email: str) -> str:
        """The DM channel id with a person (conversations.open, kept per Slack user: the
        DM between oscbot and a user does not change)."""
        user = self.user_id(email)
        if user is None:
            raise ChatError(f"no Slack account found for {self._names.get(email, 'a person')}")
        with self._lock:
            cached = self._dm_channels.get(user)
        if cached:
            return cached
        channel = str(self._call("conversations.open", users=user)["channel"]["id"])
        with self._lock:
            self._dm_channels[user] = channel
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

    def granted_scopes(self) -> set[str]:
        """auth.test: proves the token works; the scopes Slack says it grants."""
        response = self._response("auth.test")
        granted = response.headers.get("x-oauth-scopes") or response.headers.get(
            "X-OAuth-Scopes") or ""
        return {scope.strip() for scope in str(granted).split(",") if scope.strip()}

    def _call(self, method: str, form: bool = False, **args: object) -> dict[str, Any]:
        response = self._response(method, form, **args)
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _response(self, method: str, form: bool = False, **args: object) -> SlackResponse:
        """One Web API call; `form` sends form fields, for read methods that take no JSON."""
        args = {k: v for k, v in args.items() if v is not None}
        pause = f"{method}:{args.get('channel')}" if method in PER_CHANNEL else method
        with self._lock:
            wait = self._paused_until.get(pause, 0.0) - self._monotonic()
        if wait > 0:
            raise ChatError(f"Slack rate limit on {method}", transient=True, retry_after=wait,
                            code="ratelimited", scope=SHARED_LIMITS.get(method, ""))
        try:
            if form:
                return self._client.api_call(method, data={k: _form(v) for k, v in args.items()})
            return self._client.api_call(method, json=args)
        except SlackApiError as exc:
            refused = refusal(method, exc.response.status_code, _data(exc),
                              exc.response.headers)
            if refused.code == "ratelimited" and refused.retry_after:
                with self._lock:
                    self._paused_until[pause] = self._monotonic() + refused.retry_after
            raise refused from None
        except (SlackClientError, OSError) as exc:
            # The request may have reached Slack before the connection failed or timed out.
            raise ChatError(f"Slack {method}: network error ({type(exc).__name__})",
                            transient=True, maybe_sent=True) from None


def _data(exc: SlackApiError) -> Mapping[str, Any]:
    data = exc.response.data if exc.response is not None else None
    return data if isinstance(data, dict) else {}


def _form(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
