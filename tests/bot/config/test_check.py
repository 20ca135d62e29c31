"""`oscbot check` and config loading: every broken config gets a specific, located message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.config.check import check_config
from bot.config.examples import EXAMPLE_CONFIG
from bot.config.loader import load_config
from bot.errors import ConfigError
from handlers.cli.app import app

EXAMPLE = EXAMPLE_CONFIG

GOOD = """\
team:
  name: Test Homes
  timezone: America/Chicago
  channel: "#sales"
  managers: [dana@t.example]
people:
  - email: maria@t.example
    name: Maria
    role: osc
    calendar: {ics: https://calendar.example/maria.ics}
    backups: [jordan@t.example]
  - email: jordan@t.example
    name: Jordan
    role: backup
    trained: true
    shadowed: true
  - email: dana@t.example
    name: Dana
    role: manager
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors(tmp_path: Path, text: str) -> list[tuple[int | None, str, str]]:
    problems = check_config(write(tmp_path, text), env={"SLACK_BOT_TOKEN": "x",
                                                        "SLACK_SIGNING_SECRET": "y",
                                                        "LEAD_WEBHOOK_SECRET": "z"})
    return [(p.line, p.field, p.message) for p in problems if p.is_error]


def test_good_config_has_no_problems(tmp_path: Path) -> None:
    assert errors(tmp_path, GOOD) == []


BROKEN = [
    ("unknown backup",
     GOOD.replace("backups: [jordan@t.example]", "backups: [jordan@t.example, kim@t.example]"),
     11, "people[0].backups[1]", "unknown person 'kim@t.example'"),
    ("osc without backups",
     GOOD.replace("    backups: [jordan@t.example]\n", ""),
     7, "people[0]", "has no backups"),
    ("backup lists themselves",
     GOOD.replace("backups: [jordan@t.example]", "backups: [maria@t.example, jordan@t.example]"),
     11, "people[0].backups[0]", "cannot be their own backup"),
    ("duplicate person",
     GOOD + "  - email: Jordan@t.example\n    name: Jordan again\n    role: backup\n",
     20, "people[3].email", "listed twice"),
    ("bad duration",
     GOOD + "policies:\n  speed_to_lead: five minutes\n",
     21, "policies.speed_to_lead", "'five minutes' is not a duration"),
    ("unknown time zone",
     GOOD.replace("timezone: America/Chicago", "timezone: Central"),
     3, "team.timezone", "unknown time zone 'Central'"),
    ("unknown manager",
     GOOD.replace("managers: [dana@t.example]", "managers: [dana@t.example, boss@t.example]"),
     5, "team.managers[1]", "unknown person 'boss@t.example'"),
    ("no trained backup",
     GOOD.replace("    trained: true\n", ""),
     11, "people[0].backups", "no trained backup"),
    ("escalation not after speed to lead",
     GOOD + "policies:\n  speed_to_lead: 15m\n  escalate_after: 10m\n",
     22, "policies.escalate_after", "longer than speed_to_lead"),
    ("follow-up steps not growing",
     GOOD + "policies:\n  follow_up: [3d, 24h]\n",
     21, "policies.follow_up", "steps must grow"),
    ("unknown setting",
     GOOD.replace("    shadowed: true\n", "    shadowed: true\n    shadowd: true\n"),
     17, "people[1].shadowd", "unknown setting"),
    ("unknown role",
     GOOD.replace("role: manager", "role: boss"),
     19, "people[2].role", "'boss' is not allowed"),
    ("missing ics file",
     GOOD.replace("https://calendar.example/maria.ics", "calendars/nope.ics"),
     10, "people[0].calendar.ics", "calendar file calendars/nope.ics not found"),
    ("unknown adapter",
     GOOD + "routing:\n  calls: {adapter: ringcentral}\n",
     21, "routing.calls.adapter", "unknown adapter 'ringcentral'"),
    ("missing environment variable",
     GOOD.replace("channel: \"#sales\"", "channel: ${SALES_CHANNEL}"),
     4, "team.channel", "environment variable SALES_CHANNEL is not set"),
    ("bad email",
     GOOD.replace("email: dana@t.example", "email: dana at example"),
     17, "people[2].email", "'dana at example' is not an email address"),
    ("yaml syntax error",
     GOOD.replace("  name: Test Homes", "  name: [Test Homes"),
     3, "(yaml)", "not valid YAML"),
    ("missing team",
     GOOD.split("people:")[0].replace("team:", "teem:") + "people: []\n",
     1, "teem", "unknown setting"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"),
                         [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_broken_config_is_located_and_explained(tmp_path: Path, text: str, line: int,
                                                field: str, words: str) -> None:
    found = errors(tmp_path, text)
    assert any(f == field and words in m and ln == line for ln, f, m in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("timezone: America/Chicago", "timezone: Mars/Base") + (
        "policies:\n  speed_to_lead: soon\n  min_absence: 0h\n")
    fields = {f for _, f, _ in errors(tmp_path, text)}
    assert {"team.timezone", "policies.speed_to_lead", "policies.min_absence"} <= fields


def test_environment_interpolation_with_defaults(tmp_path: Path) -> None:
    text = GOOD.replace('channel: "#sales"', "channel: ${SALES_CHANNEL:-#online-sales}")
    config = load_config(write(tmp_path, text), env={})
    assert config.team.channel == "#online-sales"
    config = load_config(write(tmp_path, text), env={"SALES_CHANNEL": "#leads"})
    assert config.team.channel == "#leads"


def test_load_raises_with_every_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD.replace("role: manager", "role: boss")), env={})
    assert "app.yaml:19: people[2].role" in str(caught.value)


def test_missing_file_is_one_clear_problem(tmp_path: Path) -> None:
    [problem] = check_config(tmp_path / "nope.yaml", env={})
    assert "no such file" in problem.message


def test_example_config_is_clean(tmp_path: Path) -> None:
    problems = check_config(EXAMPLE, env={})
    assert [p for p in problems if p.is_error] == []
    assert {p.field for p in problems} == {"SLACK_BOT_TOKEN", "LEAD_WEBHOOK_SECRET"}


def test_credentials_for_configured_adapters_are_required(tmp_path: Path) -> None:
    text = GOOD + "routing:\n  calls: {adapter: callrail}\n  leads: {adapter: hubspot}\n"
    found = errors(tmp_path, text)
    messages = " ".join(m for _, _, m in found)
    assert "CALLRAIL_API_KEY" in messages and "HUBSPOT_ACCESS_TOKEN" in messages
    assert "account id" in messages


def test_crm_settings_are_checked(tmp_path: Path) -> None:
    text = GOOD + ("routing:\n  leads:\n    adapter: lasso\n"
                   "    settings: {keep_new_leads_with_backup: maybe}\n")
    found = errors(tmp_path, text)
    assert ("routing.leads.settings.keep_new_leads_with_backup",
            "must be true or false, not 'maybe'") in [(f, m) for _, f, m in found]
    people = {f: m for _, f, m in found if f.startswith("people[")}
    assert set(people) == {"people[0].routing_ids", "people[1].routing_ids"}
    assert "Jordan (jordan@t.example) needs lasso_user_id" in people["people[1].routing_ids"]


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["check", "--config",
                              str(write(tmp_path, GOOD.replace("role: manager", "role: x")))])
    assert bad.exit_code == 1
    assert "people[2].role" in bad.output
    good = runner.invoke(app, ["check", "--config", str(EXAMPLE)])
    assert good.exit_code == 0, good.output
    strict = runner.invoke(app, ["check", "--config", str(EXAMPLE), "--strict"])
    assert strict.exit_code == 1


def test_teams_settings_say_which_variables_are_missing(tmp_path: Path) -> None:
    on_teams = GOOD.replace('  channel: "#sales"', '  channel: "#sales"\n  chat: teams')
    path = write(tmp_path, on_teams)
    missing = check_config(path, env={"TEAMS_CLIENT_ID": "app", "LEAD_WEBHOOK_SECRET": "z"})
    assert [(p.field, p.is_error) for p in missing] == [("TEAMS_CLIENT_SECRET", True)]
    assert "TEAMS_CLIENT_SECRET, TEAMS_TENANT_ID not set" in missing[0].message
    complete = {"TEAMS_CLIENT_ID": "a", "TEAMS_CLIENT_SECRET": "b", "TEAMS_TENANT_ID": "c",
                "LEAD_WEBHOOK_SECRET": "z"}
    assert check_config(path, env=complete) == []
    local = {"TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED": "true", "LEAD_WEBHOOK_SECRET": "z"}
    [remote] = check_config(path, env={**local, "TEAMS_SERVICE_URL": "https://smba.example"})
    assert remote.is_error and "ignored" in remote.message
    [loopback] = check_config(path, env={**local, "TEAMS_SERVICE_URL": "http://127.0.0.1:56150"})
    assert not loopback.is_error and "NOT authenticated" in loopback.message
    teams_id = write(tmp_path, on_teams.replace('"#sales"', '"19:abc123@thread.tacv2"'))
    assert check_config(teams_id, env=complete) == []
    wrong = write(tmp_path, GOOD.replace('  channel: "#sales"', '  channel: "#sales"\n  chat: irc'))
    assert any(f == "team.chat" for _, f, _ in errors(tmp_path, wrong.read_text()))


def test_duplicate_keys_are_errors_with_both_lines(tmp_path: Path) -> None:
    text = GOOD.replace("    trained: true\n", "    trained: true\n    trained: false\n", 1)
    found = errors(tmp_path, text)
    assert (16, "people[1].trained",
            "written twice (first on line 15); YAML would keep only this one, so remove one "
            "of them") in found


@pytest.mark.parametrize("channel", ['"#Online Sales"', "'#sales.team'", '"#' + "x" * 81 + '"'])
def test_channel_names_are_validated(tmp_path: Path, channel: str) -> None:
    found = errors(tmp_path, GOOD.replace('"#sales"', channel))
    assert [(line, field) for line, field, _ in found] == [(4, "team.channel")]


@pytest.mark.parametrize("channel", ['"#online-sales"', "leads_2", "C0123ABCD"])
def test_good_channel_names_and_ids_pass(tmp_path: Path, channel: str) -> None:
    assert errors(tmp_path, GOOD.replace('"#sales"', channel)) == []


def test_every_file_error_has_a_line(tmp_path: Path) -> None:
    text = GOOD + ("routing:\n  calls: {adapter: callrail}\n"
                   "  leads:\n    adapter: lasso\n    settings: {keep_new_leads_with_backup: x}\n")
    found = [p for p in check_config(write(tmp_path, text), env={}) if p.is_error]
    assert found and all(p.line for p in found), found
    lines = {p.field: p.line for p in found}
    assert lines["routing.calls.settings.account_id"] == 21  # CallRail's, where it belongs
    assert lines["routing.calls.adapter"] == 21  # CALLRAIL_API_KEY missing
    assert lines["people[0].routing_ids"] == 7


def test_counts_are_pluralised(tmp_path: Path) -> None:
    runner = CliRunner()
    one = runner.invoke(app, ["check", "--config",
                              str(write(tmp_path, GOOD.replace("role: manager", "role: x")))],
                        env={"COLUMNS": "200"})
    assert "1 error, 0 warnings in" in one.output
    clean = runner.invoke(app, ["check", "--config", str(EXAMPLE)], env={
        "COLUMNS": "200", "SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y"})
    assert "is valid (1 warning)" in clean.output
