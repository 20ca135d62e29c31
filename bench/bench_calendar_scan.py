"""Scan a 5-year calendar of 2,000 events with 50 recurring series through the real path.

Target (issue: calendar watching): under 1 s, peak memory under 200 MB.
Run: .venv/bin/python bench/bench_calendar_scan.py
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config.model import Policies
from calendars.ics import IcsSource

SUMMARIES = ["Vacation", "Team meeting", "PTO", "Lot walk", "Day off", "Closing", "Sick",
             "Model home tour", "Holiday", "Out of office", "Realtor lunch", "Vacation planning"]


def build_calendar(events: int = 2000, series: int = 50, years: int = 5) -> str:
    """A realistic mix: timed meetings, all-day absences, weekly/monthly recurring series."""
    rng = random.Random(7)
    first = date(2024, 1, 1)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//oscbot//EN",
             "X-WR-TIMEZONE:America/Chicago"]
    for n in range(events):
        day = first + timedelta(days=rng.randrange(365 * years))
        summary = rng.choice(SUMMARIES)
        lines += ["BEGIN:VEVENT", f"UID:e{n}@bench", "DTSTAMP:20240101T000000Z",
                  f"SUMMARY:{summary}"]
        if n < series:
            lines += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
                      f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
                      "RRULE:FREQ=WEEKLY;BYDAY=" + rng.choice(["MO", "TU", "WE", "TH", "FR"])
                      + f";UNTIL={first + timedelta(days=365 * years):%Y%m%d}"]
        elif rng.random() < 0.3:
            length = rng.randint(1, 10)
            lines += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
                      f"DTEND;VALUE=DATE:{day + timedelta(days=length):%Y%m%d}"]
        else:
            hour = rng.randint(8, 16)
            lines += [f"DTSTART;TZID=America/Chicago:{day:%Y%m%d}T{hour:02d}0000",
                      f"DTEND;TZID=America/Chicago:{day:%Y%m%d}T{hour + 1:02d}0000"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def main() -> None:
    """Build, scan the whole 5 years, report time and memory."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "five-years.ics"
        path.write_text(build_calendar(), encoding="utf-8")
        source = IcsSource(str(path), time_zone="America/Chicago", policies=Policies())
        start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            read = source.read(start=start, end=end, cursor={})
            timings.append(time.perf_counter() - began)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"calendar: 2000 events (50 weekly series over 5 years), file {path.name}")
    print(f"absences found: {len(read.absences)}, skipped events: {len(read.skipped)}")
    print(f"scan time: best {min(timings):.3f} s, worst {max(timings):.3f} s (target < 1 s)")
    print(f"peak RSS: {peak_mb:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()
