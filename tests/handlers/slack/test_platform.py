"""Slack's pieces of `oscbot run`: which token it calls Slack with, the team channel
checked at start-up, and the OAuth install pinned to app.yaml's workspace."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.fakes.clock import FixedClock
from bot.ports.repositories import Repositories
from handlers.slack.install import InstalledBotToken
from handlers.slack.platform import (
    bot_token,
    check_team_channel,
    install_app,
    oauth_install,
    slack_chat,
)
from handlers.wiring import build_context
from tests.conftest import TEAM, make_config
from tests.fakes.slack_api import TEAM_CHANNEL, TOKEN, FakeSlack
from tests.handlers.slack.test_app import SECRET

OAUTH = {"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "shh",
         "SLACK_SIGNING_SECRET": SECRET}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_the_bot_token_is_slack_bot_token_even_when_oauth_is_configured() -> None:
    settings = Settings.from_env({**OAUTH, "SLACK_BOT_TOKEN": TOKEN})
    assert bot_token(settings) == TOKEN
    assert not oauth_install(settings)


def test_without_a_bot_token_oauth_reads_the_installed_token(tmp_path: Path) -> None:
    settings = Settings.from_env({**OAUTH, "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"})
    assert oauth_install(settings)
    token = bot_token(settings)
    assert isinstance(token, InstalledBotToken) and token.team_id is None


@pytest.mark.parametrize("missing", sorted(OAUTH))
def test_oauth_needs_its_client_and_signing_secret(missing: str) -> None:
    settings = Settings.from_env({k: v for k, v in OAUTH.items() if k != missing})
    assert not oauth_install(settings)
    assert bot_token(settings) is None


def test_the_install_reads_the_token_of_app_yamls_workspace(
        repos: Repositories, clock: FixedClock, tmp_path: Path) -> None:
    config = make_config(team={**TEAM["team"], "slack_team_id": "T1"})
    settings = Settings.from_env({**OAUTH, "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"}
                                 ).model_copy(update={"public_url": "https://oscbot.example/"})
    token = bot_token(settings)
    assert isinstance(token, InstalledBotToken)
    ctx = build_context(config=config, repos=repos, clock=clock,
                        chat=slack_chat(settings, token)(config), sources={})
    install = install_app(ctx, settings, token)
    assert token.team_id == "T1"
    assert install.app.oauth_flow is not None
    assert install.app.oauth_flow.settings.redirect_uri == (
        "https://oscbot.example/slack/oauth_redirect")


def test_a_team_channel_oscbot_is_not_in_is_an_error_at_start_up(
        config: AppConfig, repos: Repositories, clock: FixedClock, slack: FakeSlack,
        caplog: pytest.LogCaptureFixture) -> None:
    slack.add_channel(TEAM_CHANNEL, "online-sales", member=False)
    settings = Settings.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.url})
    ctx = build_context(config=config, repos=repos, clock=clock,
                        chat=slack_chat(settings, TOKEN)(config), sources={})
    with caplog.at_level(logging.INFO):
        check_team_channel(ctx)
    [record] = [r for r in caplog.records if r.name == "handlers.slack.platform"]
    assert record.levelno == logging.ERROR
    assert "oscbot is not in the team channel #online-sales" in record.getMessage()
