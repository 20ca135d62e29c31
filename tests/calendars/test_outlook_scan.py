"""`oscbot calendar scan --outlook EMAIL` prints the same JSON as a scan of a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handlers.cli.calendar import calendar_app
from tests.calendars.test_outlook import MARIA, recorded
from tests.fakes.graph import FakeGraph

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
BEGIN:VEVENT
UID:away-1
SUMMARY:Away
X-MICROSOFT-CDO-BUSYSTATUS:OOF
DTSTART;VALUE=DATE:20261221
DTEND;VALUE=DATE:20261228
END:VEVENT
END:VCALENDAR
"""


def scan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(calendar_app, ["scan", *args, "--tz", "America/Chicago",
                                               "--from", "2026-12-01", "--to", "2027-01-15",
                                               "--json"])
    return result.exit_code, result.stdout, result.stderr


def test_outlook_scan_prints_the_file_scan_json(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeGraph() as graph:
        graph.mailbox(MARIA).put(recorded("all_day_oof.json"))
        for key, value in graph.env().items():
            monkeypatch.setenv(key, value)
        # The standard CA variables of httpx and requests, as behind a corporate proxy.
        monkeypatch.setenv("SSL_CERT_FILE", graph.ca_file)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", graph.ca_file)
        code, out, err = scan("--outlook", MARIA)
    assert code == 0, err
    file = tmp_path / "maria.ics"
    file.write_text(ICS, encoding="utf-8")
    file_code, file_out, _ = scan(str(file))
    assert file_code == 0
    outlook, ics = json.loads(out), json.loads(file_out)
    assert [a.pop("uids") for a in outlook["absences"]] == [
        ["AAMkADU3NzQ1LTQyMGEtNGIwZC1hZDk0LWYxMDQ5ZDYzMzM3NABGAAAAAAA1rt2yBvXQRILzsQBGAAB-vac1"]]
    [a.pop("uids") for a in ics["absences"]]
    assert outlook == ics
    assert outlook["absences"][0]["start"] == "2026-12-21T06:00:00+00:00"


def test_outlook_scan_without_credentials_or_with_both_sources_is_one_clear_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET", "GRAPH_TENANT_ID"):
        monkeypatch.delenv(key, raising=False)
    code, _, err = scan("--outlook", MARIA)
    assert code == 2 and "GRAPH_CLIENT_ID" in err and "Traceback" not in err
    code, _, err = scan("x.ics", "--outlook", MARIA)
    assert code == 2 and "or --outlook" in err
