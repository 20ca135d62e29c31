"""`oscbot check --online`: ask Slack whether the token, its scopes and the team channel
will work, before the first brief fails."""

from __future__ import annotations

from bot.config.loader import ConfigDocument
from bot.config.model import AppConfig
from bot.errors import ChatError, ConfigProblem
from handlers.slack.chat import SlackChat

# Every bot scope manifest.yaml asks for, and why oscbot needs it.
REQUIRED_SCOPES = {
    "app_mentions:read": "answer @oscbot mentions",
    "channels:read": "find the team channel and check oscbot is in it (public)",
    "groups:read": "find the team channel and check oscbot is in it (private)",
    # Before sending again after a timeout or a crash, oscbot looks for the message by its
    # key in the conversation's recent history, so nothing is sent twice.
    "channels:history": "find an already-sent message before retrying (public channel)",
    "groups:history": "find an already-sent message before retrying (private channel)",
    "im:history": "find an already-sent DM before retrying",
    "chat:write": "post briefs, alerts and DMs",
    "chat:write.public": "post in a public channel before being invited",
    "commands": "slash commands",
    "files:write": "the weekly digest chart",
    "im:write": "open DMs with backups and OSCs",
    "users:read": "know who pressed a button or typed a command",
    "users:read.email": "match people to app.yaml by email",
}


def slack_problems(config: AppConfig, doc: ConfigDocument, *, token: str,
                   api_url: str) -> list[ConfigProblem]:
    """auth.test (token and scopes) and the team channel (exists, oscbot is in it)."""
    chat = SlackChat(token=token, api_url=api_url, names={})
    try:
        granted = chat.granted_scopes()
    except ChatError as exc:
        return [ConfigProblem(file="Slack", line=None, field="SLACK_BOT_TOKEN",
                              message=f"auth.test failed: {exc}")]
    problems = []
    missing = sorted(set(REQUIRED_SCOPES) - granted)
    if missing:
        needs = "; ".join(f"{scope} ({REQUIRED_SCOPES[scope]})" for scope in missing)
        problems.append(ConfigProblem(
            file="Slack", line=None, field="scopes",
            message=f"the app lacks {needs}: add them under oauth_config.scopes.bot (as in "
                    "manifest.yaml) and reinstall the app"))
    problem = chat.channel_problem(config.team.channel)
    if problem:
        problems.append(doc.problem(("team", "channel"), problem))
    return problems
