"""ICS text to absences, one component at a time, so one bad component never costs the rest.

Parsing is `icalendar`'s, recurrence `recurring-ical-events'` (RRULE, RDATE,
EXDATE, RECURRENCE-ID with THISANDFUTURE), Google's X-WR-TIMEZONE is
normalised by `x-wr-timezone`, and icalendar resolves Windows TZIDs. Floating
times and all-day dates are read in the person's own zone. Whatever cannot be
read is listed in `skipped` with the reason; whatever is read with a guess
(an unknown TZID, a recurrence rule that cannot be expanded) in `warnings`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone

from bot.calendar.absences import CalendarEvent, absences_from_events
from bot.config.model import Policies
from bot.model import Absence, SkippedEvent
from bot.ports.calendars import CalendarRead
from calendars.ics_feed import Deadline, RawComponent, decode, one_line, split

# Dates past this year are typing slips or sentinels (9999); expanding them overflows.
LAST_YEAR = 2200
# A series is refused when reaching the end of the window would take more steps than this.
MAX_STEPS = 20_000
# How often the expansion window may grow to report an absence whole (doubling each time).
EXTENSIONS = 5
_DATES = ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID")
_RECURRENCE = ("RRULE", "RDATE", "EXDATE")
_DAYS_PER_STEP = {"YEARLY": 366, "MONTHLY": 28, "WEEKLY": 7, "DAILY": 1}
_EXPANDING_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYHOUR",
                    "BYMINUTE", "BYSECOND")


@dataclass
class ParsedCalendar:
    """The readable part of a feed, plus what was skipped or guessed."""

    calendar: icalendar.Calendar
    skipped: list[SkippedEvent] = field(default_factory=list)
    warnings: list[SkippedEvent] = field(default_factory=list)
    event_count: int = 0


def parse_calendar(data: bytes, *, label: str, zone: ZoneInfo, horizon: datetime,
                   deadline: Deadline) -> ParsedCalendar:
    """Parse ICS bytes component by component; CalendarError only when nothing is a calendar.

    `horizon` is the latest time anything will be expanded to: series that need more
    than `MAX_STEPS` steps to get there are skipped.
    """
    raw = split(decode(data, label=label), label=label)
    parsed = ParsedCalendar(icalendar.Calendar(), skipped=list(raw.skipped),
                            event_count=len(raw.events) + len(raw.skipped))
    for line in raw.properties:
        name, _, value = line.partition(":")
        if name.strip().upper() == "X-WR-TIMEZONE" and value.strip():
            parsed.calendar.add("X-WR-TIMEZONE", value.strip())
    for raw_zone in raw.timezones:
        deadline.check()
        _add_timezone(parsed, raw_zone, zone)
    for raw_event, component in _parse_events(raw.events, deadline):
        deadline.check()
        _add_event(parsed, raw_event, component, zone=zone, horizon=horizon)
    try:
        parsed.calendar = x_wr_timezone.to_standard(parsed.calendar)
    except Exception as exc:  # the library raises plain errors on odd zones
        parsed.warnings.append(SkippedEvent(
            "X-WR-TIMEZONE", f"calendar time zone not applied ({one_line(str(exc), 80)})"))
    return parsed


def _parse(raw: RawComponent) -> Any:
    return icalendar.Calendar.from_ical(raw.text())


def _parse_events(events: list[RawComponent],
                  deadline: Deadline) -> Iterator[tuple[RawComponent, Any]]:
    """Each event with its parsed component (None when it raised): all in one parse when
    they allow it, else one by one so the one that raises costs only itself."""
    try:
        whole = icalendar.Calendar.from_ical(
            "BEGIN:VCALENDAR\r\n" + "".join(e.text() for e in events) + "END:VCALENDAR\r\n")
        parsed = whole.subcomponents
    except Exception:  # icalendar raises assorted errors on broken content
        parsed = []
    if len(parsed) == len(events):
        yield from zip(events, parsed, strict=True)
        return
    for raw in events:
        deadline.check()
        try:
            yield raw, _parse(raw)
        except Exception:  # as above; _add_event says why
            yield raw, None


def _reason(exc: BaseException) -> str:
    return one_line(str(exc) or type(exc).__name__, 100)


def _add_timezone(parsed: ParsedCalendar, raw: RawComponent, zone: ZoneInfo) -> None:
    ids = [v.strip() for v in raw.values("TZID")]
    label = ids[0] if ids and ids[0] else "(time zone without TZID)"
    try:
        if len(ids) != 1 or not ids[0]:
            raise ValueError("it needs exactly one TZID" if ids else "it has no TZID")
        component = _parse(raw)
        component.to_tz()  # a definition that cannot become a zone is no use to any event
    except Exception as exc:  # icalendar raises assorted errors on broken zones
        parsed.warnings.append(SkippedEvent(
            one_line(label, 80), f"time zone definition unreadable ({_reason(exc)}); events "
            f"using it are read in {zone.key}"))
        return
    parsed.calendar.add_component(component)


def _add_event(parsed: ParsedCalendar, raw: RawComponent, component: Any, *, zone: ZoneInfo,
               horizon: datetime) -> None:
    uid = raw.uid
    try:
        if component is None:
            component = _parse(raw)  # raises again, with the reason
        reason = _check(component, uid=uid, zone=zone, horizon=horizon,
                        warnings=parsed.warnings)
    except Exception as exc:  # icalendar's errors for broken content vary by property
        reason = f"unreadable ({_reason(exc)})"
    if reason is not None:
        parsed.skipped.append(SkippedEvent(uid, reason))
        return
    parsed.calendar.add_component(component)


def _check(component: Any, *, uid: str, zone: ZoneInfo, horizon: datetime,
           warnings: list[SkippedEvent]) -> str | None:
    """Why the event cannot be read, or None; drops unreadable recurrence parts with a warning."""
    errors = dict(getattr(component, "errors", ()) or ())
    for name in _DATES:
        if name in errors:
            return f"unreadable date ({name}: {one_line(str(errors[name]), 100)})"
    for name in _RECURRENCE:
        if name in errors:
            component.pop(name)
            warnings.append(SkippedEvent(uid, f"unreadable {name} ignored "
                                              f"({one_line(str(errors[name]), 80)})"))
    start = component["DTSTART"].dt
    if not isinstance(start, date):
        return "the start is a period (VALUE=PERIOD), not a date"
    for name in ("DTEND", "RECURRENCE-ID"):
        value = component.get(name)
        if value is not None and not isinstance(value.dt, date):
            return f"{name} is not a date"
    duration = component.get("DURATION")
    if duration is not None and not isinstance(duration.dt, timedelta):
        return "DURATION is not a length of time"
    for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
        value = component.get(name)
        if value is not None and value.dt.year > LAST_YEAR:
            return f"{name} in year {value.dt.year} is out of range"
    _warn_unknown_zone(component, uid=uid, zone=zone, warnings=warnings)
    rule = component.get("RRULE")
    if rule is not None:
        rule = rule[0] if isinstance(rule, list) else rule
        if str(rule.get("RSCALE", ["GREGORIAN"])[0]).upper() != "GREGORIAN":
            component.pop("RRULE")
            warnings.append(SkippedEvent(uid, "recurrence rule uses a non-Gregorian calendar "
                                              "(RSCALE); only the first occurrence is read"))
            return None
        steps = _steps(rule, start, horizon)
        if steps > MAX_STEPS:
            return (f"recurring series needs about {steps:,} repetitions to reach the "
                    f"window (more than {MAX_STEPS:,}); not expanded")
    return None


def _warn_unknown_zone(component: Any, *, uid: str, zone: ZoneInfo,
                       warnings: list[SkippedEvent]) -> None:
    for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
        value = component.get(name)
        tzid = value.params.get("TZID") if value is not None else None
        if tzid is not None and isinstance(value.dt, datetime) and value.dt.tzinfo is None:
            what = f"unknown time zone {one_line(str(tzid), 60)!r}" if str(tzid).strip() else (
                "blank time zone (TZID=)")
            warnings.append(SkippedEvent(uid, f"{what}; read in {zone.key}"))
            return


def _steps(rule: Any, start: date, horizon: datetime) -> int:
    """About how many steps dateutil takes from `start` to the horizon or the rule's end."""
    freq = str(rule.get("FREQ", ["DAILY"])[0]).upper()
    interval = max(1, int(rule.get("INTERVAL", [1])[0]))
    first = start if isinstance(start, datetime) else datetime.combine(start, time(0))
    span = (horizon.replace(tzinfo=None) - first.replace(tzinfo=None)).days
    until = rule.get("UNTIL")
    if until:
        end = until[0] if isinstance(until[0], datetime) else datetime.combine(until[0], time())
        span = min(span, (end.replace(tzinfo=None) - first.replace(tzinfo=None)).days)
    steps = max(0, span) // (_DAYS_PER_STEP.get(freq, 1) * interval) + 1
    for part in _EXPANDING_PARTS:
        steps *= max(1, len(rule.get(part, ())))
    count = rule.get("COUNT")
    return min(steps, int(count[0])) if count else steps


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)


def _text(component: Any, name: str) -> str:
    value = component.get(name)
    return str(value) if value is not None else ""


def _categories(component: Any) -> tuple[str, ...]:
    found: list[str] = []
    values = component.get("CATEGORIES")
    for entry in values if isinstance(values, list) else [values] if values else []:
        cats = getattr(entry, "cats", None)
        found.extend(str(c) for c in (cats if cats is not None else [entry]))
    return tuple(found)


def to_event(component: Any, zone: ZoneInfo) -> CalendarEvent | None:
    """One expanded VEVENT as a neutral event (None when it has no start).

    An all-day event whose DTEND is not after its DTSTART (common in holiday
    feeds) is one day long, as calendar clients show it.
    """
    start_prop = component.get("DTSTART")
    if start_prop is None:
        return None
    raw_start = start_prop.dt
    all_day = not isinstance(raw_start, datetime)
    start = _aware(raw_start, zone)
    if component.get("DTEND") is not None:
        end = _aware(component.get("DTEND").dt, zone)
    elif component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    else:
        end = start
    if all_day and end <= start:
        end = _aware(raw_start + timedelta(days=1), zone)
    uid = _text(component, "UID") or f"no-uid-{start.isoformat()}"
    return CalendarEvent(
        uid=uid, summary=_text(component, "SUMMARY"), start=start, end=end, all_day=all_day,
        description=_text(component, "DESCRIPTION"), categories=_categories(component),
        status=_text(component, "STATUS") or "CONFIRMED",
        busy_status=_text(component, "X-MICROSOFT-CDO-BUSYSTATUS"),
        transparent=_text(component, "TRANSP").upper() == "TRANSPARENT")


def events_between(parsed: ParsedCalendar, *, start: datetime, end: datetime, zone: ZoneInfo,
                   deadline: Deadline) -> Iterator[CalendarEvent]:
    """Every event occurrence overlapping `[start, end)`; a series that fails is isolated."""
    try:
        occurrences = recurring_ical_events.of(parsed.calendar, skip_bad_series=False).between(
            start, end)
    except Exception:  # one bad series: find it below, series by series
        occurrences = list(_series_by_series(parsed, start=start, end=end, deadline=deadline))
    for component in occurrences:
        try:
            event = to_event(component, zone)
        except (ValueError, OverflowError, TypeError, AttributeError) as exc:
            parsed.skipped.append(SkippedEvent(_text(component, "UID") or "(no uid)",
                                               f"unreadable occurrence ({_reason(exc)})"))
            continue
        if event is not None:
            yield event


def _series_by_series(parsed: ParsedCalendar, *, start: datetime, end: datetime,
                      deadline: Deadline) -> Iterator[Any]:
    series: dict[str, list[Any]] = {}
    for component in parsed.calendar.walk("VEVENT"):
        series.setdefault(_text(component, "UID") or f"#{id(component)}", []).append(component)
    for uid, components in series.items():
        deadline.check()
        try:
            yield from _expand(components, start, end)
            continue
        except Exception as exc:  # recurrence libraries raise assorted errors
            problem = _reason(exc)
        gone = {id(c) for c in components}
        parsed.calendar.subcomponents = [c for c in parsed.calendar.subcomponents
                                         if id(c) not in gone]
        plain = [c for c in components if not any(k in c for k in _RECURRENCE)]
        try:
            if not plain:
                raise ValueError(problem)
            occurrences = _expand(plain, start, end)
        except Exception:  # as above
            parsed.skipped.append(SkippedEvent(uid, f"cannot be expanded ({problem})"))
            continue
        parsed.warnings.append(SkippedEvent(
            uid, f"recurrence cannot be expanded ({problem}); only the first occurrence is read"))
        parsed.calendar.subcomponents.extend(plain)
        yield from occurrences


def _expand(components: list[Any], start: datetime, end: datetime) -> list[Any]:
    calendar = icalendar.Calendar()
    for component in components:
        calendar.add_component(component)
    return list(recurring_ical_events.of(calendar, skip_bad_series=False).between(start, end))


def read_absences(parsed: ParsedCalendar, *, start: datetime, end: datetime, zone: ZoneInfo,
                  policies: Policies, deadline: Deadline) -> CalendarRead:
    """Absences overlapping `[start, end)`, each whole, merged, sorted; plus skipped events.

    The expansion window is padded by `long_term_after`, and grown (doubling, a few
    times) while an absence still reaches its edge, so a long or back-to-back series
    is reported whole; one that still reaches the edge gets a warning saying so.
    """
    pad = policies.long_term_after
    low, high = start - pad, end + pad
    for attempt in range(EXTENSIONS + 1):
        events = list(events_between(parsed, start=low, end=high, zone=zone, deadline=deadline))
        absences, skipped = absences_from_events(events, policies=policies)
        inside = [a for a in absences if a.overlaps(start, end)]
        early = any(a.start <= low for a in inside)
        late = any(a.end >= high for a in inside)
        if not (early or late) or attempt == EXTENSIONS:
            break
        deadline.check()
        low, high = low - pad * 2 ** attempt * early, high + pad * 2 ** attempt * late
    seen = {e.uid for e in events if e.end > start and e.start < end}
    return CalendarRead(
        absences=tuple(inside), event_count=parsed.event_count,
        skipped=(*_unique(parsed.skipped), *(s for s in skipped if s.uid in seen)),
        warnings=(*_unique(parsed.warnings), *_continuing(inside, low, high)))


def _continuing(absences: list[Absence], low: datetime, high: datetime) -> Iterator[SkippedEvent]:
    for a in absences:
        if a.start <= low:
            yield SkippedEvent(a.uids[0], f"the absence began before {low:%Y-%m-%d}; shown "
                                          "from there")
        if a.end >= high:
            yield SkippedEvent(a.uids[-1], f"the absence continues after {high:%Y-%m-%d}; "
                                           "shown until there")


def _unique(items: list[SkippedEvent]) -> list[SkippedEvent]:
    return list(dict.fromkeys(items))
