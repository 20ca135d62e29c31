"""Multi-workspace install over real HTTP: OAuth flow, stored token, requests authorised."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.errors import ChatError
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.messages import Message
from handlers.http.app import create_app
from handlers.slack.chat import SlackChat
from handlers.slack.install import InstalledBotToken, OAuthInstall
from handlers.wiring import build_context
from storage.engine import engine_from_url
from tests.fakes.slack_api import TEAM_CHANNEL, FakeSlack
from tests.handlers.slack.test_app import SECRET, T0, USERS, Server, command

CLIENT_ID = "1111.2222"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for user_id, email in USERS.items():
            fake.add_user(email, user_id)
        yield fake


def test_install_then_commands_and_delivery_use_the_installed_token(
        tmp_path: Path, config: AppConfig, slack: FakeSlack) -> None:
    url = f"sqlite:///{tmp_path / 'oauth.db'}"
    token = InstalledBotToken(engine=engine_from_url(url), client_id=CLIENT_ID, team_id="T1")
    chat = SlackChat(token=token, api_url=slack.url, names={})
    ctx: AppContext = build_context(config=config, repos=in_memory_repositories(),
                                    clock=FixedClock(T0), chat=chat, sources={})
    install = OAuthInstall(ctx, client_id=CLIENT_ID, client_secret="shh",
                           signing_secret=SECRET, api_url=slack.url, database_url=url,
                           redirect_uri="https://oscbot.example/slack/oauth_redirect")
    asyncio.run(install.create_tables())
    with pytest.raises(ChatError, match="not installed") as missing:
        chat.post(channel=TEAM_CHANNEL, message=Message("hi"))
    assert missing.value.transient

    with Server(create_app(ctx, lead_secret=None, slack=install.app)) as base, \
            httpx.Client(base_url=base, follow_redirects=False) as browser:
        start = browser.get("/slack/install")
        assert start.status_code == 302
        location = urlparse(start.headers["Location"])
        assert location.netloc == "slack.com"
        query = parse_qs(location.query)
        assert query["client_id"] == [CLIENT_ID] and "commands" in query["scope"][0]
        state = query["state"][0]
        # Bolt marks the state cookie Secure; over loopback HTTP the test sends it itself.
        cookie = start.headers["Set-Cookie"].split(";")[0]
        assert cookie.endswith(state)
        finish = browser.get("/slack/oauth_redirect", headers={"Cookie": cookie},
                             params={"code": "install-code", "state": state})
        assert finish.status_code == 200, finish.text
        assert slack.calls("oauth.v2.access")[0]["code"] == "install-code"
        bad = browser.get("/slack/oauth_redirect", headers={"Cookie": cookie},
                          params={"code": "install-code", "state": state})
        assert bad.status_code == 401 and "invalid_state" in bad.text  # a state works once
        answer = command(base, "/coverage", "UMARIA")
        assert answer.status_code == 200 and "coverage" in answer.text
    assert token() == "xoxb-installed-token"
    chat.post(channel=TEAM_CHANNEL, message=Message("hello"))
    [posted] = [c for c in slack.calls_made if c.method == "chat.postMessage"]
    assert posted.headers["Authorization"] == "Bearer xoxb-installed-token"
