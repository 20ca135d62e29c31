"""Who is who in Slack: user ids to team emails, and mentions in typed commands to emails.

A person Slack shows without an email, or whose email is not in app.yaml, is not
remembered: the next command looks them up again (the admin may have fixed it).
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.model import AppConfig

# With `should_escape: true` Slack sends mentions as <@U123|name> and typed emails as
# <mailto:a@b.example|a@b.example>.
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")


class Directory:
    """Slack user ids to team emails: app.yaml ids first, then users.info."""

    def __init__(self, config: AppConfig) -> None:
        self._config = config
        self._emails: dict[str, str] = {
            p.chat.slack: p.email for p in config.people if p.chat.slack}
        self._seen: dict[str, str | None] = {}

    async def email(self, client: AsyncWebClient, user_id: str) -> str | None:
        """The team email of a Slack user, or None when they are not on the team."""
        email = await self.slack_email(client, user_id)
        return email if email and self._config.find_person(email) else None

    def known_email(self, user_id: str) -> str | None:
        """The team email of a user already known (app.yaml or an earlier lookup), or None
        without asking Slack."""
        email = self._emails.get(user_id)
        return email if email and self._config.find_person(email) else None

    async def slack_email(self, client: AsyncWebClient, user_id: str) -> str | None:
        """The email Slack shows for a user (cached once known), team member or not."""
        if user_id in self._emails:
            return self._emails[user_id]
        try:
            answer: Any = await client.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("user_not_found", "user_not_visible"):
                raise
            # Not a user we can see, so not on the team; not an error of ours.
            self._seen[user_id] = None
            return None
        profile = (answer.get("user") or {}).get("profile") or {}
        email = str(profile.get("email", "")).lower() or None
        self._seen[user_id] = email
        if email:
            self._emails[user_id] = email
        return email

    def refusal(self, user_id: str) -> str:
        """Why this user is not on the team, and how the admin fixes it."""
        email = self._emails.get(user_id) or self._seen.get(user_id)
        if email:
            return (f"Sorry — {email} is not on the team in app.yaml. Ask your admin to add "
                    f"you under people: (or put chat: {{slack: {user_id}}} on your entry), "
                    "then try again.")
        return ("Sorry — Slack shows oscbot no email for your account. Ask your admin to put "
                f"chat: {{slack: {user_id}}} on your entry in app.yaml, then try again.")

    async def expand(self, client: AsyncWebClient, text: str) -> str:
        """Typed text with every @mention and mailto link replaced by the person's email."""
        text = _MAILTO.sub(lambda m: m.group(1), text)
        for user_id in dict.fromkeys(_USER.findall(text)):
            email = await self.slack_email(client, user_id) or user_id
            text = re.sub(rf"<@{user_id}(?:\|[^>]*)?>", email, text)
        return text
