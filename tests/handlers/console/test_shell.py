"""`oscbot shell`, `drill`, `jobs` and `db upgrade` as a person runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.config.examples import EXAMPLE_CONFIG
from tests.processes import OSCBOT
from tests.storage.test_migrations import HEAD

pytestmark = pytest.mark.slow

EXAMPLE = EXAMPLE_CONFIG


def oscbot(*args: str, cwd: Path, stdin: str = "",
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OSCBOT_CONFIG": str(EXAMPLE),
                   "DATABASE_URL": f"sqlite:///{cwd / 'shell.db'}", "COLUMNS": "120",
                   **(env or {})}
    return subprocess.run([*OSCBOT, *args],
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
                          env=environment, check=False)


def test_shell_declares_leave_shows_coverage_and_comes_back(tmp_path: Path) -> None:
    script = "\n".join([
        "/going-on-leave 2030-06-01 2030-06-05 vacation",
        "/coverage",
        "/going-on-leave now 2d sick",
        "/as sam@riverside-homes.example",
        "/going-on-leave 2030-07-01 2030-07-02 for:maria@riverside-homes.example",
        "/as dana@riverside-homes.example",
        "/handoff-drill alex@riverside-homes.example",
        "/im-back for:maria@riverside-homes.example",
        "/quit",
    ])
    result = oscbot("shell", cwd=tmp_path, stdin=script + "\n")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Coverage planned for Maria Lopez" in out and "Jordan Kim covering" in out
    assert "Maria Lopez — planned" in out
    assert "Coverage started now for Maria Lopez" in out
    assert "Sorry — only the OSC or a manager can declare this absence" in out
    assert "Practice run for Alex Chen" in out
    assert "Welcome back" in out


def test_drill_reports_what_would_fail_and_switches_nothing(tmp_path: Path) -> None:
    result = oscbot("drill", "alex@riverside-homes.example", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Sam Patel" in result.stdout
    assert "leads (builtin): ready" in result.stdout
    assert "calls (manual): manual:" in result.stdout
    unknown = oscbot("drill", "nobody@example.com", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "nobody@example.com is not on the team" in unknown.stdout


def test_jobs_and_db_upgrade(tmp_path: Path) -> None:
    upgraded = oscbot("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0 and f"revision {HEAD}" in upgraded.stdout
    listed = oscbot("jobs", "list", cwd=tmp_path)
    assert "sync_calendars" in listed.stdout and "sweep_leads" in listed.stdout
    assert "hand_over_crm_records" in listed.stdout
    handed = oscbot("jobs", "run", "hand_over_crm_records", cwd=tmp_path)
    assert handed.returncode == 0 and "0 active coverages checked" in handed.stdout
    ran = oscbot("jobs", "run", "sync_calendars", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "read 2 calendars" in ran.stdout
    again = oscbot("jobs", "run", "sync_calendars", cwd=tmp_path)
    assert "0 coverage changes" in again.stdout
    missing = oscbot("jobs", "run", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "known jobs" in missing.stdout


def test_bad_config_is_reported_not_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "app.yaml"
    broken.write_text("team: {name: x}\n", encoding="utf-8")
    result = oscbot("shell", cwd=tmp_path, env={"OSCBOT_CONFIG": str(broken)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "app.yaml:1: team.channel: is required" in result.stdout


def test_report_prints_a_table_and_writes_csv(tmp_path: Path) -> None:
    result = oscbot("report", "--month", "2026-11", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # An empty database: says so instead of printing an empty table.
    assert "No data for 2026-11: no leads, appointments or protection lapses" in result.stdout
    assert (tmp_path / "report-2026-11.csv").read_text().startswith("person,segment")
    bad = oscbot("report", "--month", "November", cwd=tmp_path)
    assert bad.returncode == 2 and "write it as YYYY-MM" in bad.stdout


def test_run_and_db_upgrade_explain_setup_mistakes(tmp_path: Path) -> None:
    missing = oscbot("run", cwd=tmp_path, env={"OSCBOT_CONFIG": str(tmp_path / "nope.yaml")})
    assert missing.returncode == 2
    assert "no such file; set OSCBOT_CONFIG" in missing.stdout + missing.stderr
    assert "Traceback" not in missing.stdout + missing.stderr
    unreachable = oscbot("db", "upgrade", cwd=tmp_path,
                         env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert unreachable.returncode == 2
    assert "the database (DATABASE_URL) cannot be used" in unreachable.stdout
    assert "Traceback" not in unreachable.stdout + unreachable.stderr


def test_shell_takes_the_slack_commands_with_names(tmp_path: Path) -> None:
    script = "\n".join(["/as dana@riverside-homes.example", "/oscbot calendar Jordan",
                        "/handoff-drill Alex", "/oscbot", "/quit"])
    out = oscbot("shell", cwd=tmp_path, stdin=script + "\n").stdout
    assert "Lead calendar — Jordan Kim" in out
    assert "Practice run for Alex Chen" in out
    assert "/oscbot calendar [PERSON]" in out


def test_quitting_right_after_a_command_still_shows_its_paced_messages(tmp_path: Path) -> None:
    # The brief goes out, and its edit on return waits a second (one message per second
    # per conversation): /quit at once must still show it, not leave it queued.
    done = oscbot("shell", cwd=tmp_path, stdin="/going-on-leave now 3d vacation\n"
                  "/im-back\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert "edited" in done.stdout and "is back" in done.stdout
