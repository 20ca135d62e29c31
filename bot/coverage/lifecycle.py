"""The coverage lifecycle: planned -> active -> returned, or cancelled.

Pure functions over `Coverage` records; services store the results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config.model import Policies
from bot.coverage.backups import BackupChoice
from bot.errors import InvalidInput
from bot.model import (
    Absence,
    AbsenceKind,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
)


def mode_for(*, start: datetime, end: datetime, policies: Policies) -> CoverageMode:
    """Long-term when the absence lasts at least `long_term_after`, else short-term."""
    return CoverageMode.LONG_TERM if end - start >= policies.long_term_after else (
        CoverageMode.SHORT_TERM
    )


def plan_coverage(
    *,
    osc_email: str,
    start: datetime,
    end: datetime,
    kind: AbsenceKind,
    origin: CoverageOrigin,
    choice: BackupChoice,
    policies: Policies,
    declared_by: str | None = None,
    notes: str = "",
    source_uids: Sequence[str] = (),
    backup_chosen_by: str | None = None,
) -> Coverage:
    """A new planned coverage for one absence with the chosen backup."""
    if end <= start:
        raise InvalidInput("the absence must end after it starts", field="end")
    return Coverage(
        id=None,
        osc_email=osc_email,
        start=start,
        end=end,
        kind=kind,
        mode=mode_for(start=start, end=end, policies=policies),
        origin=origin,
        status=CoverageStatus.PLANNED,
        backup_email=choice.backup.email if choice.backup else None,
        skipped=choice.skipped,
        declared_by=declared_by,
        notes=notes,
        source_uids=tuple(source_uids),
        backup_chosen_by=backup_chosen_by if choice.backup else None,
    )


def is_due_to_start(coverage: Coverage, now: datetime) -> bool:
    """A planned coverage whose start has come (and whose end has not passed)."""
    return coverage.status is CoverageStatus.PLANNED and coverage.start <= now < coverage.end


def is_due_to_end(coverage: Coverage, now: datetime) -> bool:
    """An active coverage whose end has come."""
    return coverage.status is CoverageStatus.ACTIVE and coverage.end <= now


def activate(coverage: Coverage, *, now: datetime) -> Coverage:
    """Planned -> active."""
    if coverage.status is not CoverageStatus.PLANNED:
        raise InvalidInput(f"coverage is {coverage.status.value}, not planned")
    return dataclasses.replace(coverage, status=CoverageStatus.ACTIVE, started_at=now)


def finish(coverage: Coverage, *, now: datetime) -> Coverage:
    """Active -> returned; an early return moves the end to `now`."""
    if coverage.status is not CoverageStatus.ACTIVE:
        raise InvalidInput(f"coverage is {coverage.status.value}, not active")
    return dataclasses.replace(
        coverage, status=CoverageStatus.RETURNED, end=min(coverage.end, now), ended_at=now
    )


def cancel(coverage: Coverage, *, now: datetime) -> Coverage:
    """Planned -> cancelled. Active coverages are finished, never cancelled."""
    if coverage.status is not CoverageStatus.PLANNED:
        raise InvalidInput(f"only a planned coverage can be cancelled; this one is "
                           f"{coverage.status.value}")
    return dataclasses.replace(coverage, status=CoverageStatus.CANCELLED, ended_at=now)


def reschedule(
    coverage: Coverage, *, start: datetime, end: datetime, policies: Policies,
    now: datetime,
) -> Coverage:
    """Move an open coverage's window (extended or shortened); mode follows the length.

    An active coverage keeps its start: it already began.
    """
    if not coverage.is_open:
        raise InvalidInput(f"coverage is {coverage.status.value}; it can no longer change")
    if coverage.status is CoverageStatus.ACTIVE:
        start = coverage.start
    if end <= start:
        raise InvalidInput("the absence must end after it starts", field="end")
    return dataclasses.replace(
        coverage, start=start, end=end, mode=mode_for(start=start, end=end, policies=policies)
    )


@dataclass(frozen=True)
class CreateCoverage:
    """A calendar absence with no coverage yet."""

    absence: Absence


@dataclass(frozen=True)
class RescheduleCoverage:
    """A calendar coverage whose absence moved, grew or shrank."""

    coverage: Coverage
    absence: Absence


@dataclass(frozen=True)
class CancelCoverage:
    """A planned calendar coverage whose absence is gone."""

    coverage: Coverage


@dataclass(frozen=True)
class AskReturn:
    """An active calendar coverage whose absence is gone or now ends sooner.

    A calendar change alone never ends an active coverage early (a feed glitch
    would send leads back to someone still away): the OSC is asked instead, and
    the coverage otherwise runs to its planned end. `absence` is the shortened
    absence, or None when it is gone.
    """

    coverage: Coverage
    absence: Absence | None = None


CoverageChange = CreateCoverage | RescheduleCoverage | CancelCoverage | AskReturn


def reconcile(
    *,
    absences: Sequence[Absence],
    coverages: Sequence[Coverage],
    now: datetime,
) -> list[CoverageChange]:
    """Changes that bring one OSC's open coverages in line with their calendar absences.

    Only calendar coverages follow the calendar; a manual or emergency coverage is
    never cancelled by it, and an absence that overlaps one creates nothing new.
    Absences that already ended are ignored. An active coverage may grow with its
    absence but is never shortened or ended by it: that becomes `AskReturn`.
    """
    open_coverages = [c for c in coverages if c.is_open]
    calendar_open = [c for c in open_coverages if c.origin is CoverageOrigin.CALENDAR]
    manual_open = [c for c in open_coverages if c.origin is not CoverageOrigin.CALENDAR]
    matched: set[int] = set()
    changes: list[CoverageChange] = []
    for absence in absences:
        if absence.end <= now:
            continue
        match = _match(absence, calendar_open, matched)
        if match is not None:
            matched.add(id(match))
            if match.status is CoverageStatus.ACTIVE and absence.end < match.end:
                changes.append(AskReturn(match, absence))
            elif (match.start, match.end) != (absence.start, absence.end) and not (
                match.status is CoverageStatus.ACTIVE and match.end == absence.end
            ):
                changes.append(RescheduleCoverage(match, absence))
            continue
        if any(c.start < absence.end and absence.start < c.end for c in manual_open):
            continue
        changes.append(CreateCoverage(absence))
    for coverage in calendar_open:
        if id(coverage) in matched:
            continue
        if coverage.status is CoverageStatus.ACTIVE:
            changes.append(AskReturn(coverage))
        else:
            changes.append(CancelCoverage(coverage))
    return changes


def _match(
    absence: Absence, candidates: Sequence[Coverage], taken: set[int]
) -> Coverage | None:
    """The coverage for this absence: shared event uids first, else overlapping time."""
    free = [c for c in candidates if id(c) not in taken]
    uids = set(absence.uids)
    for coverage in free:
        if uids & set(coverage.source_uids):
            return coverage
    for coverage in free:
        if coverage.start < absence.end and absence.start < coverage.end:
            return coverage
    return None
