"""Working hours: when a message that is not urgent may reach someone.

Reminders, heads-ups, briefs of planned absences and return lists wait for the
recipient's working hours (their own time zone); speed-to-lead alerts, escalations,
emergencies and no-backup alerts never wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Protocol

from bot.timefmt import local


class WorkingTime(Protocol):
    """When people work: hours like `08:00-18:00` and days like `mon` (app.yaml's policies)."""

    @property
    def working_hours(self) -> str:
        """The span of working hours, `08:00-18:00`."""
        ...

    @property
    def working_days(self) -> Sequence[str]:
        """The working days, as the first three letters of their names."""
        ...


def parse_hours(text: str) -> tuple[time, time]:
    """`08:00-18:00` as (start, end); ValueError with the expected shape otherwise."""
    try:
        first, last = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not a span of hours; write it like 08:00-18:00") from None
    if last <= first:
        raise ValueError(f"{text!r} ends before it starts; write it like 08:00-18:00")
    return first, last


def in_working_hours(now: datetime, zone: str, policies: WorkingTime) -> bool:
    """True when `now` falls in working hours on a working day in `zone`."""
    moment = local(now, zone)
    first, last = parse_hours(policies.working_hours)
    day = moment.strftime("%a").lower()
    return day in policies.working_days and first <= moment.time() < last
