"""Raw ICS bytes to the components worth parsing, with every cheap limit applied first.

Real feeds arrive in UTF-16, with bare-CR line endings (Lotus Notes), several
VCALENDARs in one file (Mozilla exports), a sign-in page instead of a calendar,
or hostile sizes. This module reads them without `icalendar`: it decodes,
unfolds, splits the text into top-level components, and refuses, before any
expensive parse, the ones that can only cost time (a series repeating every
second, a million EXDATEs, a component larger than any real event).
"""

from __future__ import annotations

import codecs
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.errors import CalendarError
from bot.model import SkippedEvent

# Per event: an absence series never needs more exception or extra dates than this.
MAX_DATES_PER_EVENT = 5_000
# One event, description and all; real ones are a few kilobytes.
MAX_COMPONENT_CHARS = 512 * 1024
# A message a person reads on one line.
MAX_MESSAGE = 200

_NAME = re.compile(r"[A-Za-z0-9-]+")
_FOLD = re.compile(r"\n[ \t]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+")
# Frequencies no absence can need: expanding them is all cost and no answer.
_TOO_FREQUENT = {"SECONDLY": "every second", "MINUTELY": "every minute",
                 "HOURLY": "every hour"}


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` as one printable line of at most `limit` characters."""
    flat = " ".join(_UNPRINTABLE.sub(" ", text).split())
    flat = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in flat)
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def decode(data: bytes, *, label: str) -> str:
    """ICS bytes as text (UTF-8, UTF-16 with or without BOM, or Windows-1252).

    Raises CalendarError with one short line for empty, binary or HTML input.
    """
    if not data.strip():
        raise CalendarError(f"{label}: the calendar is empty")
    text = _text(data)
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    if not head:
        raise CalendarError(f"{label}: the calendar is empty")
    if head[:1] == "<":
        raise CalendarError(f"{label}: not a valid iCalendar file (it is an HTML page; is the "
                            "address a sign-in page or a web view instead of the ICS link?)")
    if "\x00" in head or sum(c < " " and c not in "\t\r\n" for c in head) > len(head) // 20:
        raise CalendarError(f"{label}: not a valid iCalendar file (binary data, not text)")
    return text


def _text(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    sample = data[:200]
    # UTF-16 without a BOM: every other byte of ASCII text is zero.
    if len(sample) > 20 and sample[1::2].count(0) > len(sample) // 3:
        return data.decode("utf-16-le", errors="replace")
    if len(sample) > 20 and sample[0::2].count(0) > len(sample) // 3:
        return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


@dataclass
class RawComponent:
    """One top-level component as unfolded content lines (nested alarms dropped)."""

    name: str
    lines: list[str] = field(default_factory=list)
    _by_name: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    def values(self, name: str) -> list[str]:
        """The raw values of every property called `name`."""
        if self._by_name is None:
            self._by_name = {}
            for line in self.lines[1:-1]:
                self._by_name.setdefault(_name_of(line), []).append(line.partition(":")[2])
        return self._by_name.get(name.upper(), [])

    @property
    def uid(self) -> str:
        """The UID, or a stand-in naming the component's start."""
        uids = self.values("UID")
        if uids and uids[0].strip():
            return one_line(uids[0].strip(), 120)
        starts = self.values("DTSTART")
        return f"(no uid, starts {one_line(starts[0], 40)})" if starts else "(no uid)"

    def text(self) -> str:
        """The component as ICS text, ready for a parser."""
        return "\r\n".join(self.lines) + "\r\n"


def _name_of(line: str) -> str:
    match = _NAME.match(line)
    return match.group(0).upper() if match else ""


@dataclass
class Split:
    """A feed's calendar properties, its events and time zones, and what was refused."""

    properties: list[str] = field(default_factory=list)
    events: list[RawComponent] = field(default_factory=list)
    timezones: list[RawComponent] = field(default_factory=list)
    skipped: list[SkippedEvent] = field(default_factory=list)
    calendars: int = 0


def split(text: str, *, label: str) -> Split:
    """Split every VCALENDAR in `text` into its events and time zones.

    Components other than VEVENT and VTIMEZONE (VTODO, VFREEBUSY, ...) never hold
    an absence and are dropped unread. A file cut off before END:VCALENDAR is
    refused: a partial download would silently lose the events after the cut.
    """
    result = Split()
    current: RawComponent | None = None
    depth = 0  # components open inside `current`
    inside = False
    for line in _lines(text):
        name = _name_of(line)
        if name in ("BEGIN", "END"):
            kind = line.partition(":")[2].strip().upper()
            if not inside:
                if name == "BEGIN" and kind == "VCALENDAR":
                    inside, result.calendars = True, result.calendars + 1
                continue
            if current is None:
                if name == "END" and kind == "VCALENDAR":
                    inside = False
                elif name == "BEGIN":
                    current, depth = RawComponent(kind, [f"BEGIN:{kind}"]), 0
                continue
            if name == "END" and kind == "VCALENDAR":
                result.skipped.append(SkippedEvent(current.uid,
                                                   f"cut off (no END:{current.name})"))
                current, inside = None, False
                continue
            nested_kept = current.name != "VEVENT"  # alarms never matter; zones need parts
            if name == "BEGIN":
                depth += 1
            elif depth:
                depth -= 1
            else:
                current.lines.append(f"END:{current.name}")
                _keep(current, result)
                current = None
                continue
            if nested_kept:
                current.lines.append(line)
            continue
        if current is not None:
            if depth == 0 or current.name != "VEVENT":
                current.lines.append(line)
        elif inside and result.calendars == 1:
            result.properties.append(line)
    if result.calendars == 0:
        raise CalendarError(f"{label}: not a valid iCalendar file (no BEGIN:VCALENDAR)")
    if inside:
        raise CalendarError(f"{label}: the file is cut off (no END:VCALENDAR); is the "
                            "download complete?")
    return result


def _lines(text: str) -> Iterator[str]:
    unfolded = _FOLD.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    for line in unfolded.split("\n"):
        if line.strip():
            yield line


def _keep(component: RawComponent, result: Split) -> None:
    if component.name == "VTIMEZONE":
        result.timezones.append(component)
    elif component.name == "VEVENT":
        reason = refusal(component)
        if reason is None:
            result.events.append(component)
        else:
            result.skipped.append(SkippedEvent(component.uid, reason))


def refusal(event: RawComponent) -> str | None:
    """Why this event cannot be read or is not worth expanding, from its text alone."""
    starts = event.values("DTSTART")
    if not starts:
        return "no start date (DTSTART)"
    if len(starts) > 1:
        return "two start dates (DTSTART); cannot tell which is right"
    dates = sum(v.count(",") + 1 for p in ("EXDATE", "RDATE") for v in event.values(p))
    if dates > MAX_DATES_PER_EVENT:
        return f"{dates} EXDATE/RDATE dates (more than {MAX_DATES_PER_EVENT}); not expanded"
    if sum(map(len, event.lines)) > MAX_COMPONENT_CHARS:
        return "too large to be an event"
    for rule in event.values("RRULE"):
        parts = dict(p.partition("=")[::2] for p in rule.upper().split(";"))
        freq = parts.get("FREQ", "")
        if freq in _TOO_FREQUENT:
            return (f"repeats {_TOO_FREQUENT[freq]} (FREQ={freq}); an absence never does, "
                    "so it is not expanded")
        interval = parts.get("INTERVAL", "1")
        if not interval.isdigit() or int(interval) == 0:
            return f"recurrence rule has INTERVAL={one_line(interval, 20)}; it never advances"
    return None


class Deadline:
    """One calendar's time budget, checked between pieces of work."""

    def __init__(self, seconds: float, *, label: str) -> None:
        self.seconds = seconds
        self.label = label
        self._at = time.monotonic() + seconds

    def check(self) -> None:
        """Raise CalendarError once the budget is spent."""
        if time.monotonic() > self._at:
            raise CalendarError(f"{self.label}: reading took longer than {self.seconds:g} s "
                                "(policies.calendar_read_budget); skipped this time")
