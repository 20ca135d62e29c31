"""Which calendar events are absences, of what kind, merged into whole stretches.

Pure: calendar adapters turn vendor events into `CalendarEvent`s and call
`absences_from_events`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.config.model import Policies
from bot.durations import humanize
from bot.model import Absence, AbsenceKind, SkippedEvent

NO_HANDOFF = "#no-handoff"

# First match wins, in this order.
KIND_WORDS: tuple[tuple[AbsenceKind, tuple[str, ...]], ...] = (
    (AbsenceKind.LEAVE, ("leave", "maternity", "paternity", "parental", "sabbatical")),
    (AbsenceKind.SICK, ("sick",)),
    (AbsenceKind.HOLIDAY, ("holiday",)),
    (AbsenceKind.DAY_OFF, ("day off", "days off")),
    (AbsenceKind.VACATION, ("vacation", "pto")),
    (AbsenceKind.OUT_OF_OFFICE, ("ooo", "out of office", "oof")),
)


@dataclass(frozen=True)
class CalendarEvent:
    """One event (or one expanded occurrence), already in UTC."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    all_day: bool
    description: str = ""
    categories: tuple[str, ...] = ()
    status: str = "CONFIRMED"
    busy_status: str = ""
    event_type: str = "default"
    transparent: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def typed_out_of_office(self) -> bool:
        """Marked out-of-office by the calendar itself (Outlook OOF, Google outOfOffice)."""
        return self.busy_status.upper() == "OOF" or self.event_type == "outOfOffice"


# Hyphens and underscores separate words ("Sick-leave", "PTO_day", "Out-of-office"),
# so a word boundary is any character that is not a letter or digit.
_SEPARATOR = r"[\s_\-]+"
_EDGE_BEFORE = r"(?<![^\W_])"
_EDGE_AFTER = r"(?![^\W_])"
# "Not a holiday", "no PTO", "[Not a public holiday]", "non-holiday": a negation word,
# then only small filler words, then the keyword. Any other word or punctuation in
# between ("No meetings - vacation") ends the negation.
_FILLER = ("a", "an", "the", "my", "on", "in", "public", "bank", "federal", "national",
           "state", "school", "paid", "official", "company", "real")
_NEGATED = re.compile(
    _EDGE_BEFORE + r"(?:not|no|non|never|isn'?t|aren'?t|without)"
    r"(?:" + _SEPARATOR + r"(?:" + "|".join(_FILLER) + r"))*" + _SEPARATOR + r"$",
    re.IGNORECASE)


@functools.cache
def _matcher(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern matching any of the keywords as whole words (separators flexible)."""
    phrases = (_SEPARATOR.join(map(re.escape, re.split(_SEPARATOR, k.strip())))
               for k in keywords if k.strip())
    return re.compile(_EDGE_BEFORE + r"(?:" + "|".join(phrases) + r")" + _EDGE_AFTER,
                      re.IGNORECASE)


def matches_keyword(text: str, keywords: Iterable[str]) -> bool:
    """True when any keyword appears in `text` as whole words, ignoring case, not negated.

    Hyphens and underscores separate words; "not a holiday" or "no PTO" does not count.
    """
    words = tuple(keywords)
    if not words:
        return False
    # The negation is looked for just before each match, so a long text stays linear.
    return any(_NEGATED.search(text, max(0, m.start() - 80), m.start()) is None
               for m in _matcher(words).finditer(text))


@functools.lru_cache(maxsize=4096)
def _kind_by_words(text: str, keywords: tuple[str, ...]) -> AbsenceKind | None:
    if not matches_keyword(text, keywords):
        return None
    for kind, words in KIND_WORDS:
        if matches_keyword(text, words):
            return kind
    return AbsenceKind.OUT_OF_OFFICE


def kind_of(event: CalendarEvent, keywords: Sequence[str]) -> AbsenceKind | None:
    """The absence kind of an event by its words, or OOO when only typed so; else None."""
    kind = _kind_by_words(" ".join((event.summary, *event.categories)), tuple(keywords))
    if kind is None and event.typed_out_of_office:
        return AbsenceKind.OUT_OF_OFFICE
    return kind


def classify(event: CalendarEvent, *, policies: Policies) -> AbsenceKind | SkippedEvent:
    """The kind of absence this event is, or why it is not one."""
    if event.status.upper() == "CANCELLED":
        return SkippedEvent(event.uid, "cancelled")
    if NO_HANDOFF in event.summary.lower() or NO_HANDOFF in event.description.lower():
        return SkippedEvent(event.uid, "tagged #no-handoff")
    kind = kind_of(event, policies.absence_keywords)
    if kind is None:
        return SkippedEvent(event.uid, "no absence keyword and not marked out of office")
    if event.end == event.start:
        return SkippedEvent(event.uid, "has no length (no end time)")
    if event.end < event.start:
        return SkippedEvent(event.uid, "ends before it starts")
    if not event.all_day and event.end - event.start < policies.min_absence:
        return SkippedEvent(event.uid,
                            f"shorter than {humanize(policies.min_absence)} (a meeting, "
                            "not an absence)")
    return kind


def merge(absences: Sequence[Absence]) -> list[Absence]:
    """Merge overlapping or touching absences; the merged kind is the longest part's."""
    merged: list[Absence] = []
    longest: dict[int, Absence] = {}
    for absence in sorted(absences, key=lambda a: (a.start, a.end)):
        if merged and absence.start <= merged[-1].end:
            last = merged[-1]
            index = len(merged) - 1
            if absence.duration > longest[index].duration:
                longest[index] = absence
            lead = longest[index]
            summaries = [s for s in dict.fromkeys((last.summary, absence.summary)) if s]
            merged[-1] = Absence(
                start=last.start, end=max(last.end, absence.end), kind=lead.kind,
                all_day=last.all_day and absence.all_day, summary=" + ".join(summaries),
                uids=tuple(dict.fromkeys((*last.uids, *absence.uids))))
        else:
            merged.append(absence)
            longest[len(merged) - 1] = absence
    return merged


def absences_from_events(
    events: Iterable[CalendarEvent], *, policies: Policies
) -> tuple[list[Absence], list[SkippedEvent]]:
    """Classify every event, merge the absences, and list what was skipped and why."""
    found: list[Absence] = []
    skipped: dict[str, SkippedEvent] = {}
    for event in events:
        result = classify(event, policies=policies)
        if isinstance(result, SkippedEvent):
            skipped.setdefault(result.uid, result)
            continue
        found.append(Absence(event.start, event.end, result, event.all_day, event.summary,
                             (event.uid,)))
    absences = merge(found)
    absent_uids = {uid for a in absences for uid in a.uids}
    return absences, [s for uid, s in skipped.items() if uid not in absent_uids]


def is_long_term(absence: Absence, policies: Policies) -> bool:
    """True when the (merged) absence lasts at least `long_term_after`."""
    return absence.duration >= policies.long_term_after
