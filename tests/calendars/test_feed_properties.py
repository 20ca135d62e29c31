"""Property: whatever invalid components sit beside them, the valid absences are all found.

Hypothesis builds calendars mixing valid absences (all-day, in distinct weeks)
with components of every broken shape met in real feeds, in any order, with any
line ending, in UTF-8 or UTF-16, split over one or several VCALENDARs. Through
the real `calendar scan`: no traceback, exit 0 or 2, every valid absence reported
(whole, maybe merged with more), and bounded time and memory.
"""

from __future__ import annotations

import json
import resource
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from handlers.cli.calendar import calendar_app

SUMMARIES = ("Vacation", "PTO", "Sick day", "Out of office", "Day off", "Holiday",
             "Maternity leave", "Bank-holiday", "out_of_office")
JUNK = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"),
                                      blacklist_characters=":;\r\n"), max_size=40)

INVALID = (
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Vacation\nDTEND;VALUE=DATE:20260310\n{junk}\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Vacation\nDTSTART:20260301T080000Z\n"
    "DTSTART:20260302T080000Z\n{junk}\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Vacation\nDTSTART;VALUE=DATE:2026-13-45\n"
    "BEGIN:VALARM\nTRIGGER:{junk}\nEND:VALARM\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:PTO\n"
    "DTSTART;VALUE=PERIOD:20260504T000000Z/20260509T000000Z\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Vacation\nDTSTART;VALUE=DATE:99991231\n"
    "RRULE:FREQ=DAILY\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:OOO\nDTSTART:20260101T000000Z\nDTEND:20260101T000001Z\n"
    "RRULE:FREQ=SECONDLY\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:OOO\nDTSTART:20260101T000000Z\nDTEND:20260101T000100Z\n"
    "RRULE:FREQ=MINUTELY;COUNT=10000000\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Vacation\nDTSTART:20260101T000000Z\n"
    "DTEND:20260102T000000Z\nRRULE:FREQ=DAILY;INTERVAL=0\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Day off\nDTSTART;VALUE=DATE:00010101\n"
    "RRULE:FREQ=DAILY\nEND:VEVENT",
    "BEGIN:VTIMEZONE\nTZID:A\nTZID:B\nBEGIN:STANDARD\nDTSTART:19700101T000000\n"
    "TZOFFSETFROM:-0500\nTZOFFSETTO:-0600\nEND:STANDARD\nEND:VTIMEZONE",
    "BEGIN:VTIMEZONE\nTZID:{uid}\nBEGIN:STANDARD\nTZOFFSETFROM:{junk}\nDTSTART:x\n"
    "END:STANDARD\nEND:VTIMEZONE",
    "BEGIN:VTIMEZONE\nEND:VTIMEZONE",
    "BEGIN:VFREEBUSY\nUID:{uid}\nDTSTART:20260301T000000Z\nDTEND:20260201T000000Z\n"
    "FREEBUSY:20260301T000000Z/20260201T000000Z\nEND:VFREEBUSY",
    "BEGIN:VTODO\nUID:{uid}\n{junk}\nDUE:garbage\nEND:VTODO",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Vacation\nDTSTART;TZID={junk}:20260301T080000\n"
    "DTEND;TZID={junk}:garbage\nEND:VEVENT",
    "BEGIN:VEVENT\nUID:{uid}\nSUMMARY:Vacation\nDTSTART:{junk}\nRRULE:RSCALE=HEBREW;FREQ=YEARLY\n"
    "EXDATE:{junk}\nEND:VEVENT",
    "BEGIN:X-VENDOR-THING\n{junk}\nEND:X-VENDOR-THING",
)


@st.composite
def calendars(draw: st.DrawFn) -> tuple[bytes, list[tuple[date, date]]]:
    """A calendar's bytes and the valid all-day absences in it (start, exclusive end)."""
    weeks = sorted(draw(st.sets(st.integers(1, 50), max_size=6)))
    valid, components = [], []
    for n, week in enumerate(weeks):
        first = date(2026, 1, 5) + timedelta(weeks=week) + timedelta(days=draw(st.integers(0, 1)))
        after = first + timedelta(days=draw(st.integers(1, 5)))
        valid.append((first, after))
        components.append(
            f"BEGIN:VEVENT\nUID:valid-{n}@test\nDTSTAMP:20260101T000000Z\n"
            f"SUMMARY:{draw(st.sampled_from(SUMMARIES))}\nDTSTART;VALUE=DATE:{first:%Y%m%d}\n"
            f"DTEND;VALUE=DATE:{after:%Y%m%d}\nEND:VEVENT")
    for n, template in enumerate(draw(st.lists(st.sampled_from(INVALID), max_size=8))):
        components.append(template.format(uid=f"bad-{n}@test", junk=draw(JUNK)))
    order = draw(st.permutations(components))
    pieces = draw(st.integers(1, 3))
    calendars_text = [
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//property//EN\n"
        + "".join(c + "\n" for c in order[i::pieces]) + "END:VCALENDAR\n"
        for i in range(pieces)]
    text = "".join(calendars_text).replace("\n", draw(st.sampled_from(["\r\n", "\n", "\r"])))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding), valid


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars())
def test_valid_absences_survive_any_invalid_neighbours(
        case: tuple[bytes, list[tuple[date, date]]]) -> None:
    data, valid = case
    with TemporaryDirectory() as folder:
        path = Path(folder) / "feed.ics"
        path.write_bytes(data)
        memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.monotonic()
        result = CliRunner().invoke(calendar_app, [
            "scan", str(path), "--tz", "UTC", "--from", "2026-01-01", "--to", "2027-06-01",
            "--json"])
        elapsed = time.monotonic() - began
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before) / 1024
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code in (0, 2)
    assert "Traceback" not in result.stderr
    assert elapsed < 10 and grown_mb < 200
    if not valid:
        return
    assert result.exit_code == 0, result.stderr
    found = [(datetime.fromisoformat(a["start"]).date(), datetime.fromisoformat(a["end"]).date())
             for a in json.loads(result.stdout)["absences"]]
    for first, after in valid:
        assert any(start <= first and after <= end for start, end in found), (first, after)
