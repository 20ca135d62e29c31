"""`pip install .` (not editable) gives a working oscbot from any folder.

The wheel is built and installed into a fresh virtual environment that borrows this
environment's already-installed dependencies (a .pth line), so the test runs offline
in seconds; the commands then run from an empty folder outside the clone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "tests", "bench",
                              "__pycache__", "*.egg-info", ".*_cache", "*.db")


@pytest.fixture(scope="module")
def oscbot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `oscbot` script of a fresh, non-editable install."""
    base = tmp_path_factory.mktemp("install")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # Dependencies (and pip, setuptools) come from this environment; oscbot itself does
    # not: its editable hook lives in a .pth file that a .pth-added folder never runs.
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", str(source)],
                   check=True, capture_output=True, timeout=240)
    return venv / "bin" / "oscbot"


def run(oscbot: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OSCBOT_", "SLACK_", "DATABASE_URL", "PYTHON"))}
    env["COLUMNS"] = "200"  # one line per sentence, whatever the terminal
    return subprocess.run([str(oscbot), *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


def test_demo_runs_from_an_empty_folder(oscbot: Path, tmp_path: Path) -> None:
    result = run(oscbot, tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert "Nothing was left behind." in result.stdout
    assert list(tmp_path.iterdir()) == []  # the demo leaves nothing behind in the folder


def test_init_then_check_then_demo_on_the_starter(oscbot: Path, tmp_path: Path) -> None:
    init = run(oscbot, tmp_path, "init")
    assert init.returncode == 0, init.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
        "app.yaml", "calendars/alex.ics", "calendars/maria.ics"]
    assert (tmp_path / "app.yaml").read_text().startswith("# Written by `oscbot init`")
    check = run(oscbot, tmp_path, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "app.yaml is valid" in check.stdout
    again = run(oscbot, tmp_path, "init")
    assert again.returncode == 2 and "already exist" in again.stderr
    demo = run(oscbot, tmp_path, "demo", "--config", "app.yaml")
    assert demo.returncode == 0, demo.stderr


def test_the_repository_app_yaml_is_the_example_team() -> None:
    from bot.config.examples import EXAMPLE_CONFIG
    from bot.config.loader import load_config
    from bot.config.settings import Settings

    top = load_config(ROOT / "app.yaml", env={})
    example = load_config(EXAMPLE_CONFIG, env={})
    assert top.model_dump(exclude={"people"}) == example.model_dump(exclude={"people"})
    assert [p.model_dump(exclude={"calendar"}) for p in top.people] == [
        p.model_dump(exclude={"calendar"}) for p in example.people]
    for person in top.people:
        if person.calendar and person.calendar.ics:
            assert (ROOT / person.calendar.ics).is_file()
    # `oscbot shell` and `oscbot run` read ./app.yaml unless told otherwise.
    assert Settings(_env_file=None).config_path == Path("app.yaml")  # type: ignore[call-arg]
