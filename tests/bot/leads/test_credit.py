"""Appointment credit: new lead during coverage -> backup bonus; OSC's own lead stays OSC's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.leads.credit import credit_for_appointment, is_new_during
from bot.model import (
    AbsenceKind,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
    CreditTo,
    Lead,
)

START = datetime(2026, 12, 1, 6, tzinfo=UTC)
COVERAGE = Coverage(
    id=7, osc_email="maria@rh.example", start=START, end=START + timedelta(days=4),
    kind=AbsenceKind.VACATION, mode=CoverageMode.SHORT_TERM, origin=CoverageOrigin.CALENDAR,
    status=CoverageStatus.ACTIVE, backup_email="jordan@rh.example")
NAMES = {"maria@rh.example": "Maria", "jordan@rh.example": "Jordan"}


def lead(received_at: datetime, coverage_id: int | None = None) -> Lead:
    return Lead(id=1, source="web", external_id="x", name="Pat", email="p@example.com",
                phone=None, community=None, message="", received_at=received_at,
                owner_email="maria@rh.example", assigned_to="jordan@rh.example",
                assignment_reason="", coverage_id=coverage_id)


def test_new_lead_during_coverage_earns_backup_bonus() -> None:
    credit = credit_for_appointment(lead=lead(START + timedelta(hours=3)),
                                    set_by="jordan@rh.example", coverage=COVERAGE, names=NAMES)
    assert credit.credit_to is CreditTo.BACKUP
    assert credit.bonus_email == "jordan@rh.example"
    assert credit.credit_email == "maria@rh.example"
    assert "Jordan set it while covering for Maria" in credit.note


def test_lead_owned_before_coverage_stays_with_osc() -> None:
    credit = credit_for_appointment(lead=lead(START - timedelta(days=10)),
                                    set_by="jordan@rh.example", coverage=COVERAGE, names=NAMES)
    assert credit.credit_to is CreditTo.OSC
    assert credit.bonus_email is None
    assert credit.credit_email == "maria@rh.example"
    assert "credit stays with Maria" in credit.note


def test_edge_lead_at_coverage_start_is_new_and_at_end_is_not() -> None:
    at_start = credit_for_appointment(lead=lead(START), set_by="jordan@rh.example",
                                      coverage=COVERAGE, names=NAMES)
    at_end = credit_for_appointment(lead=lead(COVERAGE.end), set_by="jordan@rh.example",
                                    coverage=COVERAGE, names=NAMES)
    assert at_start.credit_to is CreditTo.BACKUP
    assert at_end.credit_to is CreditTo.OSC


def test_osc_setting_their_own_appointment_is_plain_osc_credit() -> None:
    credit = credit_for_appointment(lead=lead(START), set_by="maria@rh.example",
                                    coverage=None, names=NAMES)
    assert (credit.credit_to, credit.bonus_email, credit.note) == (CreditTo.OSC, None, "")


def test_a_lead_routed_during_the_coverage_is_new_whatever_its_received_time() -> None:
    # Received a minute before the coverage start was moved, or backdated by its source:
    # the lead was still routed to the backup under this coverage.
    before = lead(START - timedelta(minutes=1), coverage_id=COVERAGE.id)
    after = lead(COVERAGE.end + timedelta(hours=1), coverage_id=COVERAGE.id)
    assert is_new_during(before, COVERAGE) and is_new_during(after, COVERAGE)
    credit = credit_for_appointment(lead=before, set_by="jordan@rh.example",
                                    coverage=COVERAGE, names=NAMES)
    assert (credit.credit_to, credit.bonus_email) == (CreditTo.BACKUP, "jordan@rh.example")


def test_a_lead_received_before_the_coverage_and_not_routed_under_it_is_not_new() -> None:
    assert not is_new_during(lead(START - timedelta(minutes=1)), COVERAGE)
    assert not is_new_during(lead(START - timedelta(minutes=1), coverage_id=6), COVERAGE)


@pytest.mark.parametrize("set_by", ["sam@rh.example", "dana@rh.example"],
                         ids=["another backup", "a manager"])
def test_someone_other_than_the_covering_backup_earns_no_bonus_and_leaves_no_note(
        set_by: str) -> None:
    credit = credit_for_appointment(lead=lead(START + timedelta(hours=3), COVERAGE.id),
                                    set_by=set_by, coverage=COVERAGE, names=NAMES)
    assert (credit.credit_email, credit.credit_to, credit.bonus_email, credit.note) == (
        "maria@rh.example", CreditTo.OSC, None, "")
