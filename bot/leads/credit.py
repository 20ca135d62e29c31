"""Appointment credit: who earns the bonus and whose numbers it counts in.

The seeds' rule: a backup who sets an appointment on a lead that arrived during
their coverage earns the appointment bonus; on a lead the OSC already owned the
credit stays with the OSC. Either way reporting stays under the OSC's monthly
numbers, with a note that the backup set it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import Coverage, CreditTo, Lead


@dataclass(frozen=True)
class Credit:
    """The outcome of the credit rule for one appointment."""

    credit_email: str
    credit_to: CreditTo
    bonus_email: str | None
    note: str


def is_new_during(lead: Lead, coverage: Coverage) -> bool:
    """True when the lead reached the team while this coverage was running."""
    if lead.coverage_id is not None and lead.coverage_id == coverage.id:
        return True
    return coverage.start <= lead.received_at < coverage.end


def credit_for_appointment(
    *, lead: Lead, set_by: str, coverage: Coverage | None, names: dict[str, str]
) -> Credit:
    """Apply the credit rule; `coverage` is the coverage of the lead's owner at that time."""
    owner = lead.owner_email
    setter_is_backup = coverage is not None and coverage.backup_email == set_by and (
        coverage.osc_email == owner
    )
    if not setter_is_backup or coverage is None:
        return Credit(owner if set_by != owner else set_by, CreditTo.OSC, None, "")
    setter = names.get(set_by, set_by)
    osc = names.get(owner, owner)
    if is_new_during(lead, coverage):
        return Credit(
            owner, CreditTo.BACKUP, set_by,
            f"New lead: {setter} set it while covering for {osc} and earns the appointment "
            f"bonus; it counts in {osc}'s monthly numbers.",
        )
    return Credit(
        owner, CreditTo.OSC, None,
        f"{osc} already owned this lead: the credit stays with {osc}; set by {setter} "
        "while covering.",
    )
