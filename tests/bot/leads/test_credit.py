"""Appointment credit: new lead during coverage -> backup bonus; OSC's own lead stays OSC's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.leads.credit import credit_for_appointment
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


def lead(received_at: datetime) -> Lead:
    return Lead(id=1, source="web", external_id="x", name="Pat", email="p@example.com",
                phone=None, community=None, message="", received_at=received_at,
                owner_email="maria@rh.example", assigned_to="jordan@rh.example",
                assignment_reason="")


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
