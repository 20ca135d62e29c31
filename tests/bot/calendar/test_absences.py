"""Absence rules: keywords as whole words, typed out-of-office, length, tags, merging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.calendar.absences import CalendarEvent, absences_from_events, classify, is_long_term, merge
from bot.config.model import Policies
from bot.model import Absence, AbsenceKind, SkippedEvent

T = datetime(2026, 7, 6, 14, tzinfo=UTC)
POLICIES = Policies()


def event(summary: str, hours: float = 24, *, all_day: bool = False,
          **extra: object) -> CalendarEvent:
    return CalendarEvent(uid=summary, summary=summary, start=T, end=T + timedelta(hours=hours),
                         all_day=all_day, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(("summary", "kind"), [
    ("Maternity leave", AbsenceKind.LEAVE),
    ("Sabbatical", AbsenceKind.LEAVE),
    ("Sick", AbsenceKind.SICK),
    ("HOLIDAY", AbsenceKind.HOLIDAY),
    ("Day off", AbsenceKind.DAY_OFF),
    ("Days  off", AbsenceKind.DAY_OFF),
    ("PTO", AbsenceKind.VACATION),
    ("Vacation - Cabo", AbsenceKind.VACATION),
    ("OOO", AbsenceKind.OUT_OF_OFFICE),
    ("Out of office", AbsenceKind.OUT_OF_OFFICE),
    ("Sick leave", AbsenceKind.LEAVE),
    ("Vacation day off", AbsenceKind.DAY_OFF),
])
def test_kind_first_match_wins(summary: str, kind: AbsenceKind) -> None:
    assert classify(event(summary), policies=POLICIES) is kind


@pytest.mark.parametrize("summary", ["Leavenworth trip", "Vacationing clients", "sickle cell walk",
                                     "OOOPS meeting", "Team lunch"])
def test_keywords_are_whole_words(summary: str) -> None:
    result = classify(event(summary), policies=POLICIES)
    assert isinstance(result, SkippedEvent)
    assert result.reason == "no absence keyword and not marked out of office"


def test_typed_out_of_office_without_keyword() -> None:
    assert classify(event("Dentist", busy_status="OOF"), policies=POLICIES) is (
        AbsenceKind.OUT_OF_OFFICE)
    assert classify(event("Focus", event_type="outOfOffice"), policies=POLICIES) is (
        AbsenceKind.OUT_OF_OFFICE)
    assert classify(event("Sick", busy_status="OOF"), policies=POLICIES) is AbsenceKind.SICK


def test_length_tags_and_status() -> None:
    assert classify(event("Vacation planning", 1), policies=POLICIES) == SkippedEvent(
        "Vacation planning", "shorter than 4 hours (a meeting, not an absence)")
    assert classify(event("PTO", 4), policies=POLICIES) is AbsenceKind.VACATION
    assert classify(event("Holiday", 1, all_day=True), policies=POLICIES) is AbsenceKind.HOLIDAY
    assert classify(event("Vacation", status="CANCELLED"), policies=POLICIES) == SkippedEvent(
        "Vacation", "cancelled")
    assert classify(event("PTO", description="back online #no-handoff"),
                    policies=POLICIES).reason == "tagged #no-handoff"  # type: ignore[union-attr]
    assert classify(event("Vacation", transparent=True), policies=POLICIES) is (
        AbsenceKind.VACATION)


def test_custom_keywords_and_min_absence() -> None:
    policies = Policies(absence_keywords=("off site",), min_absence=timedelta(hours=1))
    assert classify(event("Off site", 2), policies=policies) is AbsenceKind.OUT_OF_OFFICE
    assert isinstance(classify(event("Vacation"), policies=policies), SkippedEvent)


def test_merge_touching_and_overlapping_with_longest_kind() -> None:
    day = timedelta(days=1)
    parts = [Absence(T, T + 3 * day, AbsenceKind.VACATION, True, "Vacation", ("a",)),
             Absence(T + 3 * day, T + 4 * day, AbsenceKind.HOLIDAY, True, "Holiday", ("b",)),
             Absence(T + 10 * day, T + 11 * day, AbsenceKind.SICK, True, "Sick", ("c",))]
    merged = merge(parts)
    assert [(m.start, m.end, m.kind, m.uids) for m in merged] == [
        (T, T + 4 * day, AbsenceKind.VACATION, ("a", "b")),
        (T + 10 * day, T + 11 * day, AbsenceKind.SICK, ("c",))]


def test_long_term_edge_is_inclusive() -> None:
    absence = Absence(T, T + timedelta(days=14), AbsenceKind.LEAVE)
    assert is_long_term(absence, POLICIES)
    assert not is_long_term(Absence(T, T + timedelta(days=13, hours=23), AbsenceKind.LEAVE),
                            POLICIES)


def test_recurring_uid_is_not_reported_skipped_when_some_occurrences_count() -> None:
    events = [event("Day off"), CalendarEvent(uid="Day off", summary="Day off",
                                              start=T + timedelta(days=7),
                                              end=T + timedelta(days=8), all_day=True,
                                              status="CANCELLED")]
    absences, skipped = absences_from_events(events, policies=POLICIES)
    assert len(absences) == 1 and skipped == []
