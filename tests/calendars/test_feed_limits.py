"""Hostile feeds through the real `calendar scan`: bounded, one printable line, never a traceback.

The shapes are the ones a real sync met: a 50 MB feed, a million EXDATEs, binary
junk, control bytes in names. How fast each is refused is shown by
`bench/bench_calendar_hostile.py`; here, what is said and what is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from handlers.cli.calendar import calendar_app

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
VACATION = ("BEGIN:VEVENT\r\nUID:real@test\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Vacation\r\n"
            "DTSTART;VALUE=DATE:20260803\r\nDTEND;VALUE=DATE:20260808\r\nEND:VEVENT\r\n")


def scan(path: Path, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(calendar_app, [
        "scan", str(path), "--tz", "America/Chicago", "--from", "2026-01-01",
        "--to", "2027-01-01", "--json", *extra])
    return result.exit_code, result.stdout, result.stderr


def one_printable_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err
    line = err.removesuffix("\n")
    assert len(line) <= 200 and line.isprintable()
    return line


def million_exdates() -> str:
    dates = ",".join(f"2026{m:02d}{d:02d}T090000Z" for m in range(1, 13) for d in range(1, 29))
    line = "EXDATE:" + ",".join([dates] * (1_000_000 // 336 + 1))
    return (HEAD + "BEGIN:VEVENT\r\nUID:exdates@test\r\nDTSTAMP:20260101T000000Z\r\n"
            "SUMMARY:Vacation\r\nDTSTART:20260101T090000Z\r\nDTEND:20260101T170000Z\r\n"
            "RRULE:FREQ=DAILY\r\n" + line + "\r\nEND:VEVENT\r\n" + VACATION + "END:VCALENDAR\r\n")


def test_a_feed_over_the_size_limit_is_refused_with_the_limit_named(tmp_path: Path) -> None:
    path = tmp_path / "huge.ics"
    meeting = ("BEGIN:VEVENT\r\nUID:m{n}@test\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Meeting\r\n"
               "DTSTART:20260105T150000Z\r\nDTEND:20260105T160000Z\r\nEND:VEVENT\r\n")
    body = "".join(meeting.format(n=n) for n in range(50 * 1024 * 1024 // len(meeting)))
    path.write_text(HEAD + body + "END:VCALENDAR\r\n")
    code, out, err = scan(path)
    assert code == 2 and out == ""
    assert "larger than 10 MB" in one_printable_line(err)


def test_a_million_exdates_are_refused_by_size_or_skipped_with_a_reason(
        tmp_path: Path) -> None:
    path = tmp_path / "exdates.ics"
    path.write_text(million_exdates())
    code, _, err = scan(path)
    assert code == 2 and "larger than" in one_printable_line(err)
    config = tmp_path / "app.yaml"
    config.write_text("policies: {calendar_max_bytes: 40000000}\n")
    code, out, err = scan(path, "--config", str(config))
    assert code == 0, err
    result = json.loads(out)
    assert [a["uids"] for a in result["absences"]] == [["real@test"]]
    assert [s["uid"] for s in result["skipped"]] == ["exdates@test"]
    assert "EXDATE/RDATE dates" in result["skipped"][0]["reason"]


def test_control_bytes_and_nul_never_reach_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "nul.ics"
    path.write_bytes(b"\x00" * (3 * 1024 * 1024))
    code, _, err = scan(path)
    assert code == 2 and "binary data" in one_printable_line(err)
    named = tmp_path / "bell\x07name\x1b[31m.ics"
    named.write_bytes(b"\x00\x01\x02garbage")
    code, _, err = scan(named)
    assert code == 2
    one_printable_line(err)


def test_a_uid_with_control_bytes_is_reported_printable(tmp_path: Path) -> None:
    path = tmp_path / "uid.ics"
    path.write_text(HEAD + "BEGIN:VEVENT\r\nUID:bad\x1b[2Juid\r\nSUMMARY:Vacation\r\n"
                    "DTEND;VALUE=DATE:20260808\r\nEND:VEVENT\r\n" + VACATION + "END:VCALENDAR\r\n")
    code, out, _ = scan(path)
    assert code == 0
    skipped = json.loads(out)["skipped"]
    assert len(skipped) == 1 and skipped[0]["uid"].isprintable()
