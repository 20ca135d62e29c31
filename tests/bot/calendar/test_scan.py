"""`oscbot calendar scan` from app.yaml's people, over several files, weekly days grouped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from bot.calendar.scan import rows
from bot.config.examples import EXAMPLE_CALENDARS, EXAMPLE_CONFIG
from bot.model import Absence, AbsenceKind
from handlers.cli.calendar import calendar_app

MARIA = str(EXAMPLE_CALENDARS / "maria.ics")
ALEX = str(EXAMPLE_CALENDARS / "alex.ics")
RANGE = ["--from", "2026-11-01", "--to", "2027-11-01"]


def scan(*args: str) -> str:
    result = CliRunner().invoke(calendar_app, ["scan", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_several_files_are_read_as_one_calendar() -> None:
    one = json.loads(scan(MARIA, "--tz", "America/Chicago", "--json", *RANGE))["absences"]
    other = json.loads(scan(ALEX, "--tz", "America/Chicago", "--json", *RANGE))["absences"]
    both = json.loads(scan(MARIA, ALEX, "--tz", "America/Chicago", "--json", *RANGE))
    assert len(both["absences"]) == len(one) + len(other)
    starts = [a["start"] for a in both["absences"]]
    assert starts == sorted(starts)


def test_a_person_is_read_from_app_yaml_in_their_zone() -> None:
    text = scan("--person", "alex@riverside-homes.example", "--config", str(EXAMPLE_CONFIG),
                *RANGE)
    assert "(America/Chicago)" in text
    # A weekly day off is a row per run of Thursdays, not one row per Thursday.
    assert "every Thursday, Thu Nov 5, 12:00 AM CST" in text and "(4 times)" in text
    assert len([line for line in text.splitlines() if "day_off" in line]) == 2


def test_a_person_not_in_app_yaml_is_one_clear_line() -> None:
    result = CliRunner().invoke(calendar_app, ["scan", "--person", "kim@x.example",
                                               "--config", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 2
    assert "kim@x.example is not in app.yaml" in result.output


def test_fifty_two_thursdays_are_one_row() -> None:
    first = datetime(2026, 1, 1, 6, tzinfo=UTC)  # Thu Jan 1, 00:00 in Chicago
    year = [Absence(first + timedelta(weeks=n), first + timedelta(weeks=n, days=1),
                    AbsenceKind.DAY_OFF, True, "Day off") for n in range(52)]
    # Local midnight moves in UTC across daylight saving: rebuild from local dates.
    [row] = rows(_local_midnights(year), "America/Chicago")
    assert row.times == 52 and row.start.startswith("every Thursday")


def _local_midnights(absences: list[Absence]) -> list[Absence]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/Chicago")
    out = []
    for a in absences:
        day = a.start.astimezone(zone).date()
        start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        end = (datetime(day.year, day.month, day.day, tzinfo=zone)
               + timedelta(days=1)).astimezone(UTC)
        out.append(Absence(start, end, a.kind, a.all_day, a.summary))
    return out
