"""The calendar corpus: real-world-shaped .ics exports, each with its expected absences.

Every file goes through the real `oscbot calendar scan` path; the expected JSON
beside each file was checked by hand against the event times and zones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from handlers.cli.calendar import calendar_app

CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST: dict[str, Any] = yaml.safe_load((CORPUS / "manifest.yaml").read_text())
DEFAULTS: dict[str, str] = MANIFEST["defaults"]
CASES = sorted(MANIFEST["calendars"].items())


def scan(name: str, options: dict[str, str]) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(calendar_app, [
        "scan", str(CORPUS / f"{name}.ics"), "--tz", options.get("tz", DEFAULTS["tz"]),
        "--from", options.get("from", DEFAULTS["from"]), "--to", options.get("to", DEFAULTS["to"]),
        "--json"])
    return result.exit_code, result.stdout, result.stderr


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert {p.stem for p in CORPUS.glob("*.ics")} == {name for name, _ in CASES}


def test_every_finding_of_the_feed_review_has_a_calendar() -> None:
    assert {options.get("point") for _, options in CASES} >= set(range(1, 12))


@pytest.mark.parametrize(("name", "options"), [c for c in CASES if "error" not in c[1]],
                         ids=[c[0] for c in CASES if "error" not in c[1]])
def test_calendar_gives_its_expected_absences(name: str, options: dict[str, str]) -> None:
    code, out, err = scan(name, options)
    assert code == 0, err
    expected = json.loads((CORPUS / f"{name}.expected.json").read_text())
    assert json.loads(out) == expected


@pytest.mark.parametrize(("name", "options"), [c for c in CASES if "error" in c[1]],
                         ids=[c[0] for c in CASES if "error" in c[1]])
def test_unparseable_calendar_exits_2_with_one_line(name: str, options: dict[str, str]) -> None:
    code, out, err = scan(name, options)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and options["error"] in err
    assert "Traceback" not in err
    line = err.removesuffix("\n")
    assert len(line) <= 200 and line.isprintable()
