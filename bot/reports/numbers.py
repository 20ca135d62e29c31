"""Accountability numbers per person: response times, contact rates, appointments,
lapses — split into leads handled while covering and leads handled normally."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.model import Appointment, CreditTo, Lead, LeadStatus

COVERAGE, NORMAL = "coverage", "normal"


@dataclass(frozen=True)
class ReportRow:
    """One person's numbers for one segment (coverage or normal) of a period."""

    person: str
    segment: str
    leads: int
    contacted: int
    median_minutes: float | None
    p90_minutes: float | None
    within_window: float | None
    appointments: int
    backup_bonus_appointments: int
    lapses: int
    # Appointments that count in this person's monthly numbers (the credit rule: the
    # OSC's, even when the backup set them), and how many of those the backup set.
    credited: int = 0
    credited_set_by_backup: int = 0


def month_bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next one, in the team's zone."""
    tz = ZoneInfo(zone)
    first = datetime.combine(month.replace(day=1), time(0), tzinfo=tz)
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, datetime.combine(following, time(0), tzinfo=tz)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(q * len(ordered) + 0.5 - 1e-9))
    return ordered[min(len(ordered), rank) - 1]


def build_report(*, leads: Sequence[Lead], appointments: Sequence[Appointment],
                 lapsed: Sequence[Lead], speed_to_lead: timedelta) -> list[ReportRow]:
    """Rows per (person, segment), sorted by person then segment."""
    by_key: dict[tuple[str, str], list[Lead]] = defaultdict(list)
    for lead in leads:
        if lead.status is not LeadStatus.NOT_A_LEAD:
            by_key[(lead.assigned_to, COVERAGE if lead.coverage_id else NORMAL)].append(lead)
    booked: dict[tuple[str, str], list[Appointment]] = defaultdict(list)
    for appointment in appointments:
        segment = COVERAGE if appointment.coverage_id else NORMAL
        booked[(appointment.set_by, segment)].append(appointment)
        by_key.setdefault((appointment.set_by, segment), [])
    credited: dict[tuple[str, str], list[Appointment]] = defaultdict(list)
    for appointment in appointments:
        key = (appointment.credit_email, _credit_segment(appointment))
        credited[key].append(appointment)
        by_key.setdefault(key, [])
    lapses: dict[str, int] = defaultdict(int)
    for lead in lapsed:
        lapses[lead.owner_email] += 1
        by_key.setdefault((lead.owner_email, NORMAL), [])
    rows = []
    for (person, segment), group in sorted(by_key.items()):
        minutes = [(lead.first_contact_at - lead.received_at).total_seconds() / 60
                   for lead in group if lead.first_contact_at is not None]
        fast = sum(1 for m in minutes if m <= speed_to_lead.total_seconds() / 60)
        made = booked.get((person, segment), [])
        rows.append(ReportRow(
            person=person, segment=segment, leads=len(group), contacted=len(minutes),
            median_minutes=statistics.median(minutes) if minutes else None,
            p90_minutes=percentile(minutes, 0.9),
            within_window=fast / len(group) if group else None,
            appointments=len(made),
            backup_bonus_appointments=sum(1 for a in made if a.credit_to is CreditTo.BACKUP),
            lapses=lapses.get(person, 0) if segment == NORMAL else 0,
            credited=len(credited.get((person, segment), [])),
            credited_set_by_backup=sum(1 for a in credited.get((person, segment), [])
                                       if a.set_by != person)))
    return rows



def _credit_segment(appointment: Appointment) -> str:
    """The row an appointment counts on: set by someone else (the backup), on the credited
    person's normal row; otherwise where its setter was working."""
    if appointment.credit_email != appointment.set_by:
        return NORMAL
    return COVERAGE if appointment.coverage_id else NORMAL
