"""`oscbot --help` and `oscbot check` start without the libraries they do not use.

Timing belongs to bench/bench_cli_startup.py; here the imports are checked, which
is what the time depends on and does not vary with the machine's load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.config.examples import EXAMPLES
from tests.processes import OSCBOT

SERVER_STACK = ("fastapi", "uvicorn", "starlette", "slack_bolt", "slack_sdk", "sqlalchemy",
                "sqlmodel", "alembic", "apscheduler", "aiohttp", "httpx")
VENDOR_SDKS = ("twilio", "hubspot", "simple_salesforce", "googleapiclient", "matplotlib",
               "icalendar", "recurring_ical_events")


def imported(*args: str) -> set[str]:
    """Top-level packages `oscbot ARGS` imported, from `python -X importtime`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import sys; from handlers.cli.app import main; sys.argv[0] = 'oscbot'; main()", *args],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "handlers" in names, result.stderr[-2000:]
    return names


def test_help_imports_typer_and_nothing_heavy() -> None:
    loaded = imported("--help")
    heavy = {"pydantic", "pydantic_settings", "rich", "yaml", "bot", "calendars", "storage",
             *SERVER_STACK, *VENDOR_SDKS}
    assert "typer" in loaded and not loaded & heavy, sorted(loaded & heavy)


def test_calendar_help_lists_its_commands_without_the_server() -> None:
    server = set(SERVER_STACK) - {"httpx"}  # httpx reads calendar URLs
    assert not imported("calendar", "--help") & server


def test_check_reads_the_config_without_settings_server_or_sdks() -> None:
    loaded = imported("check", "--config", str(EXAMPLES / "app.yaml"))
    assert "pydantic" in loaded  # app.yaml is validated by its models
    unwanted = {"pydantic_settings", "calendars", "storage", *SERVER_STACK, *VENDOR_SDKS}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_config_path_comes_from_the_environment_like_settings(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = subprocess.run(
        [*OSCBOT, "check"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "oscbot_config": str(missing)})
    assert result.returncode != 0 and "nowhere.yaml" in result.stdout + result.stderr
