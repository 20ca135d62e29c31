"""One `oscbot run` per SQLite file, with real processes: a second one on the same file
refuses to start and says why (and what to do); once the first is gone, even after
kill -9, the file is free again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cluster.harness import Replica, team_config
from tests.processes import OSCBOT, free_port

pytestmark = pytest.mark.slow


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """`oscbot run` on a SQLite file in `tmp_path`, messages printed to its console."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(OSCBOT_CONFIG=str(team_config(tmp_path)),
               DATABASE_URL=f"sqlite:///{tmp_path / 'oscbot.db'}")
    return env


def second_run(env: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    """Another `oscbot run` on the same file, on a port of its own."""
    return subprocess.run(
        [*OSCBOT, "run"],
        env={**env, "PORT": str(free_port())}, cwd=folder, capture_output=True, text=True,
        timeout=120, check=False)


def test_a_second_run_on_the_same_sqlite_file_refuses_until_the_first_is_gone(
        tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    first = Replica("first", env, tmp_path)
    first.start()
    try:
        first.wait_ready()
        second = second_run(env, tmp_path)
        assert first.process is not None and first.process.poll() is None  # untouched
    finally:
        first.kill()  # SIGKILL: no clean-up, the operating system drops the lock
    assert second.returncode == 2
    said = " ".join((second.stderr + second.stdout).split())
    assert f"oscbot.db is already used by oscbot run (pid {first.process.pid})" in said
    assert "use PostgreSQL (DATABASE_URL) to run several replicas" in said
    assert "Traceback" not in said
    again = Replica("again", env, tmp_path)
    again.start()
    try:
        again.wait_ready()
    finally:
        again.kill()
