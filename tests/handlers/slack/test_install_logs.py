"""A failed installation insert logs no token: SQL parameters never reach the logs."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bot.config.model import AppConfig
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from handlers.http.app import create_app
from handlers.logs import install_log_scrubbing
from handlers.slack.chat import SlackChat
from handlers.slack.install import OAuthInstall
from handlers.wiring import build_context
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slack.test_app import SECRET, T0, Server

CLIENT_ID = "1111.2222"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_a_failing_installation_insert_logs_neither_token_nor_code(
        tmp_path: Path, config: AppConfig, slack: FakeSlack,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "oauth.db"
    url = f"sqlite:///{path}"
    chat = SlackChat(token="unused", api_url=slack.url, names={})
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=FixedClock(T0),
                        chat=chat, sources={})
    install = OAuthInstall(ctx, client_id=CLIENT_ID, client_secret="client-secret-value",
                           signing_secret=SECRET, api_url=slack.url, database_url=url,
                           redirect_uri="https://oscbot.example/slack/oauth_redirect")
    asyncio.run(install.create_tables())
    with sqlite3.connect(path) as db:  # the database refuses the row, as a full disk would
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON slack_installations "
                   "BEGIN SELECT RAISE(ABORT, 'installation refused'); END")
    install_log_scrubbing()  # as `oscbot run` does at start-up
    caplog.set_level(logging.DEBUG)
    with Server(create_app(ctx, lead_secret=None, slack=install.app)) as base, \
            httpx.Client(base_url=base, follow_redirects=False) as browser:
        start = browser.get("/slack/install")
        state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]
        finish = browser.get("/slack/oauth_redirect",
                             headers={"Cookie": start.headers["Set-Cookie"].split(";")[0]},
                             params={"code": "install-code", "state": state})
        assert finish.status_code >= 400
    assert "installation refused" in caplog.text  # the failure itself is logged
    for secret in ("xoxb-installed-token", "install-code", "client-secret-value", SECRET):
        assert secret not in caplog.text
