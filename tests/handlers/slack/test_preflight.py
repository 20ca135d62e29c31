"""`oscbot check --online` against the fake Slack Web API: token, scopes, team channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.config.examples import EXAMPLE_CONFIG
from handlers.cli.app import app
from handlers.slack.preflight import REQUIRED_SCOPES
from tests.fakes.slack_api import TOKEN, FakeSlack, manifest_scopes


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def check(slack: FakeSlack, token: str = TOKEN, config: Path = EXAMPLE_CONFIG) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check", "--online", "--config", str(config)], env={
        "COLUMNS": "300", "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": "s",
        "LEAD_WEBHOOK_SECRET": "w", "SLACK_API_URL": slack.url})
    return result.exit_code, result.output


def test_a_working_install_passes(slack: FakeSlack) -> None:
    code, output = check(slack)
    assert code == 0, output
    assert slack.calls("auth.test") and slack.calls("conversations.list")


def test_a_bad_token_is_named(slack: FakeSlack) -> None:
    code, output = check(slack, token="xoxb-revoked")
    assert code == 1
    assert "auth.test failed" in output and "the Slack token is invalid" in output


def test_missing_scopes_are_named_with_why(slack: FakeSlack) -> None:
    slack.scopes = [s for s in slack.scopes if s not in ("files:write", "users:read.email")]
    code, output = check(slack)
    assert code == 1
    assert "lacks files:write (the weekly digest chart); users:read.email" in output


def test_bot_not_in_channel_is_located_in_app_yaml(slack: FakeSlack) -> None:
    slack.channels["C0SALES01"]["is_member"] = False
    code, output = check(slack)
    assert code == 1
    assert ("app.yaml:9: team.channel: oscbot is not in the team channel #online-sales "
            "(C0SALES01); invite it there with /invite @oscbot") in output


def test_online_needs_a_token(slack: FakeSlack) -> None:
    result = CliRunner().invoke(app, ["check", "--online", "--config", str(EXAMPLE_CONFIG)],
                                env={"SLACK_BOT_TOKEN": None})
    assert result.exit_code == 1 and "--online needs SLACK_BOT_TOKEN" in result.output


def test_the_manifest_asks_for_exactly_the_scopes_oscbot_uses() -> None:
    assert sorted(manifest_scopes()) == sorted(REQUIRED_SCOPES)


def test_every_command_has_a_usage_hint_escapes_mentions_and_exists_in_the_shell() -> None:
    import yaml

    from handlers.console.shell import HELP
    from tests.fakes.slack_api import MANIFEST

    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for command in manifest["features"]["slash_commands"]:
        assert command.get("usage_hint"), command["command"]
        assert command["should_escape"] is True, command["command"]
        assert command["command"] in HELP, command["command"]
