"""The coverage lifecycle and calendar reconciliation, with time controlled."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import AppConfig, Policies
from bot.coverage import lifecycle
from bot.coverage.backups import BackupChoice
from bot.errors import InvalidInput
from bot.model import Absence, AbsenceKind, CoverageMode, CoverageOrigin, CoverageStatus

NOW = datetime(2026, 11, 30, 14, tzinfo=UTC)
START = datetime(2026, 12, 1, 6, tzinfo=UTC)
POLICIES = Policies()


def planned(config: AppConfig, *, days: int = 4, origin: CoverageOrigin = CoverageOrigin.CALENDAR,
            uids: tuple[str, ...] = ("u1",), cid: int = 1) -> lifecycle.Coverage:
    choice = BackupChoice(config.person("jordan@rh.example"), ())
    c = lifecycle.plan_coverage(osc_email="maria@rh.example", start=START,
                                end=START + timedelta(days=days), kind=AbsenceKind.VACATION,
                                origin=origin, choice=choice, policies=POLICIES,
                                source_uids=uids)
    return dataclasses.replace(c, id=cid)


def absence(days: int = 4, *, start: datetime = START, uids: tuple[str, ...] = ("u1",)) -> Absence:
    return Absence(start, start + timedelta(days=days), AbsenceKind.VACATION, True,
                   "Vacation", uids)


def test_mode_follows_length_with_the_edge_at_long_term_after() -> None:
    assert lifecycle.mode_for(start=START, end=START + timedelta(days=14) - timedelta(seconds=1),
                              policies=POLICIES) is CoverageMode.SHORT_TERM
    assert lifecycle.mode_for(start=START, end=START + timedelta(days=14),
                              policies=POLICIES) is CoverageMode.LONG_TERM


def test_planned_active_returned(config: AppConfig) -> None:
    c = planned(config)
    assert c.status is CoverageStatus.PLANNED and c.backup_email == "jordan@rh.example"
    assert not lifecycle.is_due_to_start(c, START - timedelta(seconds=1))
    assert lifecycle.is_due_to_start(c, START)
    active = lifecycle.activate(c, now=START)
    assert active.status is CoverageStatus.ACTIVE and active.started_at == START
    assert not lifecycle.is_due_to_end(active, active.end - timedelta(seconds=1))
    assert lifecycle.is_due_to_end(active, active.end)
    back = lifecycle.finish(active, now=active.end)
    assert back.status is CoverageStatus.RETURNED and back.end == active.end


def test_early_return_moves_the_end(config: AppConfig) -> None:
    active = lifecycle.activate(planned(config), now=START)
    back = lifecycle.finish(active, now=START + timedelta(days=1))
    assert back.end == START + timedelta(days=1)


def test_illegal_transitions_are_refused(config: AppConfig) -> None:
    c = planned(config)
    with pytest.raises(InvalidInput):
        lifecycle.finish(c, now=START)
    active = lifecycle.activate(c, now=START)
    with pytest.raises(InvalidInput):
        lifecycle.activate(active, now=START)
    with pytest.raises(InvalidInput):
        lifecycle.cancel(active, now=START)
    with pytest.raises(InvalidInput):
        lifecycle.plan_coverage(osc_email="m", start=START, end=START, kind=AbsenceKind.SICK,
                                origin=CoverageOrigin.MANUAL, choice=BackupChoice(None, ()),
                                policies=POLICIES)


def test_reschedule_extends_into_long_term_and_keeps_an_active_start(config: AppConfig) -> None:
    c = planned(config)
    longer = lifecycle.reschedule(c, start=START, end=START + timedelta(days=20),
                                  policies=POLICIES, now=NOW)
    assert longer.mode is CoverageMode.LONG_TERM
    active = lifecycle.activate(c, now=START)
    moved = lifecycle.reschedule(active, start=START + timedelta(days=1),
                                 end=START + timedelta(days=2), policies=POLICIES, now=START)
    assert moved.start == START and moved.end == START + timedelta(days=2)


def test_reconcile_creates_extends_shortens_and_cancels(config: AppConfig) -> None:
    assert lifecycle.reconcile(absences=[absence()], coverages=[], now=NOW) == [
        lifecycle.CreateCoverage(absence())]
    c = planned(config)
    assert lifecycle.reconcile(absences=[absence()], coverages=[c], now=NOW) == []
    grown = absence(6)
    assert lifecycle.reconcile(absences=[grown], coverages=[c], now=NOW) == [
        lifecycle.RescheduleCoverage(c, grown)]
    shrunk = absence(2)
    assert lifecycle.reconcile(absences=[shrunk], coverages=[c], now=NOW) == [
        lifecycle.RescheduleCoverage(c, shrunk)]
    assert lifecycle.reconcile(absences=[], coverages=[c], now=NOW) == [
        lifecycle.CancelCoverage(c)]
    active = lifecycle.activate(c, now=START)
    assert lifecycle.reconcile(absences=[], coverages=[active], now=START) == [
        lifecycle.AskReturn(active)]


def test_an_active_coverage_grows_with_its_absence_but_is_never_cut_by_it(
        config: AppConfig) -> None:
    active = lifecycle.activate(planned(config), now=START)
    grown, shrunk = absence(6), absence(2)
    assert lifecycle.reconcile(absences=[grown], coverages=[active], now=START) == [
        lifecycle.RescheduleCoverage(active, grown)]
    assert lifecycle.reconcile(absences=[shrunk], coverages=[active], now=START) == [
        lifecycle.AskReturn(active, shrunk)]


def test_reconcile_matches_by_uid_when_the_dates_moved_entirely(config: AppConfig) -> None:
    c = planned(config)
    moved = absence(start=START + timedelta(days=30))
    assert lifecycle.reconcile(absences=[moved], coverages=[c], now=NOW) == [
        lifecycle.RescheduleCoverage(c, moved)]


def test_manual_coverage_is_never_cancelled_by_the_calendar(config: AppConfig) -> None:
    manual = planned(config, origin=CoverageOrigin.MANUAL, uids=())
    assert lifecycle.reconcile(absences=[], coverages=[manual], now=NOW) == []
    assert lifecycle.reconcile(absences=[absence()], coverages=[manual], now=NOW) == []


def test_past_absences_and_closed_coverages_are_ignored(config: AppConfig) -> None:
    past = absence(start=NOW - timedelta(days=5), days=2)
    assert lifecycle.reconcile(absences=[past], coverages=[], now=NOW) == []
    cancelled = lifecycle.cancel(planned(config), now=NOW)
    assert lifecycle.reconcile(absences=[absence()], coverages=[cancelled], now=NOW) == [
        lifecycle.CreateCoverage(absence())]
