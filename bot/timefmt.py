"""Showing UTC instants in a reader's own time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def local(moment: datetime, zone: str) -> datetime:
    """The instant in the given IANA zone."""
    return moment.astimezone(ZoneInfo(zone))


def when(moment: datetime, zone: str) -> str:
    """`Mon Dec 1, 8:00 AM CST` in the reader's zone."""
    value = local(moment, zone)
    hour = value.strftime("%I").lstrip("0")
    return f"{value:%a %b} {value.day}, {hour}:{value:%M %p} {value.tzname()}"


def clock_time(moment: datetime, zone: str) -> str:
    """`1:32 PM` in the reader's zone."""
    value = local(moment, zone)
    return f"{value.strftime('%I').lstrip('0')}:{value:%M %p}"


def day(moment: datetime, zone: str) -> str:
    """`Mon Dec 1` in the reader's zone."""
    value = local(moment, zone)
    return f"{value:%a %b} {value.day}"


def window(start: datetime, end: datetime, zone: str) -> str:
    """A human range; whole local days read as dates, with the day they are back."""
    first, last = local(start, zone), local(end, zone)
    if first.time() == time(0) and last.time() == time(0):
        final_day = last - timedelta(days=1)
        if final_day.date() == first.date():
            return f"{day(start, zone)} (all day), back {day(end, zone)}"
        return f"{day(start, zone)} – {day(final_day, zone)}, back {day(end, zone)}"
    return f"{when(start, zone)} – {when(end, zone)}"
