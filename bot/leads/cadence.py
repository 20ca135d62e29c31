"""Follow-up cadence and coverage protection, as pure functions of time.

Cadence: after first contact, follow-ups at each `follow_up` offset (24h, 3d, 7d by
default), then a nurture check-in every `nurture_every`. Coverage protection: an
agent keeps credit on a lead only with documented two-way contact at least every
`coverage_protection`; they are warned a day before it lapses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.config.model import Policies

WARN_BEFORE = timedelta(days=1)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


def due_for(step: int, *, first_contact_at: datetime, policies: Policies) -> datetime:
    """When cadence step `step` (0-based) is due, counted from the first contact."""
    steps = policies.follow_up
    if step < len(steps):
        return first_contact_at + steps[step]
    return first_contact_at + steps[-1] + policies.nurture_every * (step - len(steps) + 1)


def title_for(step: int, *, lead_name: str, policies: Policies) -> str:
    """The reminder's words for a cadence step."""
    if step < len(policies.follow_up):
        ordinal = _ORDINALS[step] if step < len(_ORDINALS) else f"#{step + 1}"
        return f"Follow up with {lead_name} ({ordinal} follow-up)"
    return f"Nurture check-in with {lead_name}"


def next_due(step: int, *, first_contact_at: datetime, done_at: datetime,
             policies: Policies) -> datetime:
    """When the step after `step` is due: on schedule, but never before tomorrow."""
    planned = due_for(step + 1, first_contact_at=first_contact_at, policies=policies)
    return max(planned, done_at + timedelta(days=1))


class Protection(StrEnum):
    """Where a lead's credit protection stands."""

    PROTECTED = "protected"
    EXPIRING = "expiring"
    LAPSED = "lapsed"


def protection(*, last_two_way_at: datetime | None, now: datetime,
               policies: Policies) -> Protection | None:
    """The protection state (None when there was never two-way contact to protect)."""
    if last_two_way_at is None:
        return None
    deadline = last_two_way_at + policies.coverage_protection
    if now >= deadline:
        return Protection.LAPSED
    if now >= deadline - WARN_BEFORE:
        return Protection.EXPIRING
    return Protection.PROTECTED
