"""The chat platforms `oscbot run` finds by app.yaml's `team.chat`: each one's port, its
doors on the HTTP app, and the console standing in for Slack without credentials."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
from fastapi import FastAPI

from bot.config.model import AppConfig, TeamConfig
from bot.config.settings import Settings
from bot.fakes.clock import FixedClock
from bot.ports.repositories import Repositories
from handlers.console.chat import ConsoleChat
from handlers.http.platforms import ChatPlatform, chat_platform, platform_module
from handlers.slack.chat import SlackChat
from handlers.wiring import build_context
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.handlers.slack.test_app import SECRET

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def mounted(platform: ChatPlatform, config: AppConfig, repos: Repositories,
            clock: FixedClock) -> set[str]:
    """The paths the platform mounts on an empty HTTP app, with its own chat port."""
    ctx = build_context(config=config, repos=repos, clock=clock, chat=platform.chat(config),
                        sources={})
    api = FastAPI()
    platform.mount(ctx, api)
    return {getattr(route, "path", "") for route in api.routes} - {
        route.path for route in FastAPI().routes}


def test_every_chat_platform_app_yaml_accepts_has_a_module_that_builds_it() -> None:
    for name in get_args(TeamConfig.model_fields["chat"].annotation):
        assert callable(platform_module(name).build)


def test_a_name_no_platform_has_is_refused() -> None:
    with pytest.raises(ValueError, match="no chat platform 'irc'"):
        platform_module("irc")


def test_slack_without_a_token_is_the_console_and_says_so(
        config: AppConfig, repos: Repositories, clock: FixedClock,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        platform = chat_platform("slack", Settings.from_env({}), clock=clock)
    assert isinstance(platform.chat(config), ConsoleChat)
    assert "SLACK_BOT_TOKEN is not set: messages are printed to this console" in caplog.text
    assert mounted(platform, config, repos, clock) == set()


def test_slack_with_a_token_checks_the_channel_and_takes_events_over_http(
        config: AppConfig, repos: Repositories, clock: FixedClock, slack: FakeSlack,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                                  "SLACK_API_URL": slack.url})
    platform = chat_platform("slack", settings, clock=clock)
    assert isinstance(platform.chat(config), SlackChat)
    with caplog.at_level(logging.INFO):
        assert mounted(platform, config, repos, clock) == {"/slack/events"}
    assert slack.calls("conversations.list")
    assert "team channel #online-sales found" in caplog.text


def test_slack_with_an_app_token_takes_events_over_socket_mode_not_http(
        config: AppConfig, repos: Repositories, clock: FixedClock, slack: FakeSlack) -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xapp-1-A1",
                                  "SLACK_API_URL": slack.url})
    assert mounted(chat_platform("slack", settings, clock=clock), config, repos, clock) == set()


def test_slack_without_a_signing_secret_or_app_token_only_sends(
        config: AppConfig, repos: Repositories, clock: FixedClock, slack: FakeSlack) -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.url})
    assert mounted(chat_platform("slack", settings, clock=clock), config, repos, clock) == set()


def test_slack_installed_through_oauth_serves_the_install_pages(
        config: AppConfig, repos: Repositories, clock: FixedClock, tmp_path: Path) -> None:
    settings = Settings.from_env({
        "SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "shh",
        "SLACK_SIGNING_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"})
    platform = chat_platform("slack", settings, clock=clock)
    assert isinstance(platform.chat(config), SlackChat)
    assert mounted(platform, config, repos, clock) == {
        "/slack/events", "/slack/install", "/slack/oauth_redirect"}


def test_a_slack_team_never_loads_the_teams_sdk() -> None:
    # A fresh interpreter: this one has the Teams SDK loaded by other tests.
    probe = ("import sys; from handlers.http.server import serve; "
             "from bot.config.settings import Settings; "
             "from handlers.cli.app import SystemClock; "
             "from handlers.http.platforms import chat_platform; "
             "from tests.conftest import make_config; "
             "settings = Settings.from_env({'SLACK_BOT_TOKEN': 'xoxb-1'}); "
             "chat_platform('slack', settings, clock=SystemClock()).chat(make_config()); "
             "print('microsoft_teams' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"
