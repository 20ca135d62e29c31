"""What `oscbot calendar scan` shows a person: several calendars read as one, the
calendars and zone of someone in app.yaml, and a weekly day off as one row, not 52."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.calendar.absences import merge
from bot.config.model import AppConfig
from bot.model import Absence
from bot.ports.calendars import CalendarRead
from bot.timefmt import local, when

WEEK = timedelta(days=7)


def combined(reads: Sequence[CalendarRead]) -> CalendarRead:
    """Several calendars of one person as one read: absences merged, notes kept."""
    return CalendarRead(
        absences=tuple(merge([a for read in reads for a in read.absences])),
        skipped=tuple(s for read in reads for s in read.skipped),
        warnings=tuple(w for read in reads for w in read.warnings))


@dataclass(frozen=True)
class PersonCalendars:
    """Where a person's calendars are and which zone they live in, from app.yaml."""

    zone: str
    ics: tuple[str, ...]
    outlook: str | None


def person_calendars(config: AppConfig, email: str, *, base: str) -> PersonCalendars:
    """The calendars app.yaml gives a person (ICS paths made absolute against `base`);
    KeyError naming the person when they are not in the file."""
    person = config.find_person(email)
    if person is None:
        raise KeyError(f"{email} is not in app.yaml")
    calendar = person.calendar
    ics: tuple[str, ...] = ()
    if calendar is not None and calendar.ics:
        location = calendar.ics
        if "://" not in location and not location.startswith("/"):
            location = f"{base.rstrip('/')}/{location}"
        ics = (location,)
    outlook = calendar.outlook if calendar is not None else None
    return PersonCalendars(zone=config.zone_of(email), ics=ics, outlook=outlook)


@dataclass(frozen=True)
class Row:
    """One line of the human table: an absence, or a weekly series of alike ones."""

    start: str
    until: str
    kind: str
    summary: str
    times: int = 1
    first: Absence | None = None


def rows(absences: Sequence[Absence], zone: str) -> list[Row]:
    """Absences as table rows; the same weekday, hours and kind a week apart (a weekly
    day off) become one row saying how often and until when."""
    out: list[Row] = []
    series: list[Absence] = []

    def flush() -> None:
        if not series:
            return
        first, last = series[0], series[-1]
        if len(series) == 1:
            out.append(Row(when(first.start, zone), when(first.end, zone), first.kind.value,
                           first.summary, 1, first))
        else:
            day = local(first.start, zone).strftime("%A")
            out.append(Row(f"every {day}, {when(first.start, zone)}",
                           f"last ends {when(last.end, zone)}", first.kind.value,
                           first.summary, len(series), first))
        series.clear()

    for absence in sorted(absences, key=lambda a: a.start):
        if series and _next_in_series(series[-1], absence, zone):
            series.append(absence)
            continue
        flush()
        series.append(absence)
    flush()
    return out


def _next_in_series(previous: Absence, absence: Absence, zone: str) -> bool:
    same_wall_clock = (local(previous.start, zone).time() == local(absence.start, zone).time()
                       and local(previous.end, zone).time() == local(absence.end, zone).time())
    # Local dates a week apart (a daylight-saving change moves the UTC gap by an hour).
    week_apart = (local(absence.start, zone).date() - local(previous.start, zone).date()
                  == WEEK)
    return (week_apart and same_wall_clock and absence.kind is previous.kind
            and absence.summary == previous.summary)
