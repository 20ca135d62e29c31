"""`oscbot demo` tells the whole story offline and leaves nothing behind."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from handlers.console.demo import play
from tests.processes import OSCBOT

pytestmark = pytest.mark.slow


def test_demo_plays_the_whole_story(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A temp folder of its own: other demos running on the machine must not count.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    console = Console(record=True, width=120, color_system=None)
    assert play(console) == 0
    text = console.export_text()
    story = [
        "Heads-up: Maria Lopez is out from tomorrow",
        "the brief waits for the team's working",
        "Maria Lopez is out — Jordan Kim is covering",
        "✅ Leads → Jordan Kim (builtin)",
        "You're covering for Maria Lopez",
        "New lead — contact within 5 minutes",
        "Lead waiting 6 minutes with no contact",
        "Escalation: no contact after 16 minutes",
        "@Dana Brooks",
        "✅ Called by Jordan Kim at 1:46 PM",
        "Call Wei Chen about lot 14 with updated pricing* (for Maria Lopez)",
        "✅ Maria Lopez is back — Jordan Kim covered",
        "↩️ Leads back to Maria Lopez (builtin)",
        "her return-to-office list waits",
        "Welcome back, Maria Lopez",
        "Jordan Kim earns the bonus",
        "credit stays with Maria Lopez",
        "Start Sam Rivera on your follow-up process",
        "↩️ Calls back to Maria Lopez (manual)",
    ]
    positions = [text.find(line) for line in story]
    assert all(p >= 0 for p in positions), [s for s, p in zip(story, positions, strict=True)
                                            if p < 0]
    assert positions == sorted(positions)
    assert "Vacation planning" not in text.split("the end")[0].split("→")[0]
    assert list(tmp_path.glob("oscbot-demo-*")) == []


def test_demo_command_exits_zero_and_writes_no_files(tmp_path: Path) -> None:
    result = subprocess.run([*OSCBOT, "demo"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "Welcome back, Maria Lopez" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_help_lists_every_command() -> None:
    result = subprocess.run([*OSCBOT,
                             "--help"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0
    for command in ("demo", "shell", "run", "check", "calendar", "drill", "db", "jobs"):
        assert f" {command} " in result.stdout, command
