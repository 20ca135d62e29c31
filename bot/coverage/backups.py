"""Choosing who covers: the first eligible backup in the OSC's ordered list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.config.model import AppConfig, PersonConfig
from bot.model import CoverageStatus, SkippedBackup
from bot.ports.repositories import Repositories

IsAway = Callable[[str, datetime, datetime], bool]
_OPEN = (CoverageStatus.PLANNED, CoverageStatus.ACTIVE)


def recorded_away(repos: Repositories, email: str, start: datetime, end: datetime) -> bool:
    """True when the person has an open coverage or a calendar absence in the window."""
    for c in repos.coverages.list(osc_email=email, statuses=_OPEN):
        if c.start < end and start < c.end:
            return True
    state = repos.calendar_sync.get(email)
    return state is not None and any(a.overlaps(start, end) for a in state.absences)


@dataclass(frozen=True)
class BackupChoice:
    """The chosen backup (or none) and everyone passed over, with reasons."""

    backup: PersonConfig | None
    skipped: tuple[SkippedBackup, ...]

    @property
    def fell_back(self) -> bool:
        """True when someone earlier in the list was passed over."""
        return self.backup is not None and bool(self.skipped)


def ineligibility(
    *,
    candidate: PersonConfig,
    osc_email: str,
    start: datetime,
    end: datetime,
    is_away: IsAway,
    open_leads: Mapping[str, int],
) -> str | None:
    """Why `candidate` cannot cover this window, or None when they can."""
    if candidate.email == osc_email:
        return "is the person who is away"
    if not candidate.trained:
        return "not trained on the lead tools"
    if not candidate.shadowed:
        return "has not shadowed the OSC yet"
    if is_away(candidate.email, start, end):
        return "is away during the absence"
    load = open_leads.get(candidate.email, 0)
    if load >= candidate.max_active_leads:
        return f"at capacity ({load} of {candidate.max_active_leads} open leads)"
    return None


def choose_backup(
    *,
    config: AppConfig,
    osc_email: str,
    start: datetime,
    end: datetime,
    is_away: IsAway,
    open_leads: Mapping[str, int],
    preferred: str | None = None,
) -> BackupChoice:
    """Walk the OSC's ordered backups (a preferred one first) and pick the first eligible.

    Nobody eligible yields `backup=None`; callers must alert the managers then.
    """
    osc = config.person(osc_email)
    order = list(osc.backups)
    if preferred is not None:
        preferred = preferred.lower()
        order = [preferred, *[e for e in order if e != preferred]]
    skipped: list[SkippedBackup] = []
    for email in order:
        candidate = config.find_person(email)
        if candidate is None:
            skipped.append(SkippedBackup(email, "is not on the team"))
            continue
        reason = ineligibility(
            candidate=candidate, osc_email=osc.email, start=start, end=end,
            is_away=is_away, open_leads=open_leads,
        )
        if reason is None:
            return BackupChoice(candidate, tuple(skipped))
        skipped.append(SkippedBackup(email, reason))
    return BackupChoice(None, tuple(skipped))
