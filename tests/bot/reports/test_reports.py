"""Monthly numbers per person and segment, and the weekly digest with its chart."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from rich.console import Console

from bot.config.model import AppConfig
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.leads.service import NewLead
from bot.messages import plain
from bot.model import AbsenceKind, ActivityKind, CreditTo
from bot.reports.digest import digest_message
from bot.reports.numbers import ReportRow, build_report, month_bounds, percentile
from bot.reports.service import last_week
from handlers.reports import report_csv, report_table
from handlers.wiring import build_context
from schedules.jobs import job

MARIA, JORDAN = "maria@rh.example", "jordan@rh.example"
T0 = datetime(2026, 11, 2, 16, tzinfo=UTC)


def test_month_bounds_follow_the_team_zone() -> None:
    start, end = month_bounds(date(2026, 11, 17), "America/Chicago")
    assert start.isoformat() == "2026-11-01T00:00:00-05:00"
    assert end.isoformat() == "2026-12-01T00:00:00-06:00"
    assert percentile([5, 1, 3, 2, 4], 0.9) == 5 and percentile([], 0.5) is None


def test_report_numbers_split_by_coverage(config: AppConfig) -> None:
    clock = FixedClock(T0)
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=clock,
                        chat=RecordingChat(), sources={})
    delays = [2, 4, 12, 30]
    for n, minutes in enumerate(delays):
        lead, _ = ctx.leads.receive(NewLead("web", f"n{n}", f"Lead {n}", "l@example.com",
                                            None, "Riverside", "", T0))
        ctx.leads.log_activity(lead_id=lead.id or 0, kind=ActivityKind.CALL,
                               direction="outbound", by=MARIA,
                               at=T0 + timedelta(minutes=minutes))
    ctx.leads.receive(NewLead("web", "never", "Never", "n@example.com", None, "Riverside",
                              "", T0))
    clock.set(T0 + timedelta(days=3))
    ctx.coverage.declare(osc_email=MARIA, start=clock.now(), end=clock.now() + timedelta(days=2),
                         kind=AbsenceKind.SICK, actor=MARIA, emergency=True)
    covered, _ = ctx.leads.receive(NewLead("web", "c1", "Covered", "c@example.com", None,
                                           "Oak Hill", "", clock.now()))
    clock.advance(timedelta(minutes=3))
    ctx.leads.press(lead_id=covered.id or 0, kind=ActivityKind.CALL, by=JORDAN)
    appointment = ctx.leads.set_appointment(lead_id=covered.id or 0, by=JORDAN,
                                            at=clock.now() + timedelta(days=1))
    assert appointment.credit_to is CreditTo.BACKUP
    rows = {(r.person, r.segment): r for r in ctx.reports.monthly(date(2026, 11, 1))}
    maria = rows[(MARIA, "normal")]
    assert (maria.leads, maria.contacted, maria.median_minutes, maria.p90_minutes) == (
        5, 4, 8.0, 30.0)
    assert maria.within_window == 2 / 5
    jordan = rows[(JORDAN, "coverage")]
    assert (jordan.leads, jordan.within_window, jordan.appointments,
            jordan.backup_bonus_appointments) == (1, 1.0, 1, 1)
    assert report_csv(list(rows.values())).splitlines()[0].startswith("person,segment,leads")


def test_build_report_ignores_non_leads() -> None:
    assert build_report(leads=[], appointments=[], lapsed=[],
                        speed_to_lead=timedelta(minutes=5)) == []


def test_weekly_digest_posts_once_with_a_chart(config: AppConfig) -> None:
    monday = datetime(2026, 11, 30, 15, tzinfo=UTC)  # 9:00 in Chicago
    chat = RecordingChat()
    ctx = build_context(config=config, repos=in_memory_repositories(),
                        clock=FixedClock(monday - timedelta(hours=1)), chat=chat, sources={})
    digest = job("weekly_digest")
    assert digest.run(ctx).startswith("not due")
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.set(monday)
    assert digest.run(ctx) == "digest for week 48 of 2026 posted (0 rows)"
    assert digest.run(ctx) == "already posted"
    [(channel, filename, png)] = chat.uploads
    assert channel == "#online-sales" and filename == "digest-2026-W48.png"
    assert png.startswith(b"\x89PNG")
    assert ctx.notifier.exists("digest:2026-W48")


def test_digest_names_the_iso_week_it_reports() -> None:
    # Monday Jan 4 2027, 9:00 in Chicago: the digest covers Dec 28 - Jan 3, ISO week 53 of 2026.
    start, end, monday = last_week(datetime(2027, 1, 4, 15, tzinfo=UTC), "America/Chicago")
    assert monday.isocalendar()[:2] == (2026, 53)
    assert start == datetime(2026, 12, 28, 6, tzinfo=UTC)
    assert end == datetime(2027, 1, 4, 6, tzinfo=UTC)
    # Sunday night still belongs to the week before.
    _, _, sunday = last_week(datetime(2027, 1, 4, 5, tzinfo=UTC), "America/Chicago")
    assert sunday.isocalendar()[:2] == (2026, 52)


def _covered_month(config: AppConfig) -> list[ReportRow]:
    """Jordan covers Maria and sets an appointment on a new lead and on one of hers."""
    clock = FixedClock(T0)
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=clock,
                        chat=RecordingChat(), sources={})
    owned, _ = ctx.leads.receive(NewLead("web", "o1", "Owned", "o@example.com", None,
                                         "Riverside", "", T0))
    ctx.leads.press(lead_id=owned.id or 0, kind=ActivityKind.CALL, by=MARIA)
    clock.set(T0 + timedelta(days=3))
    ctx.coverage.declare(osc_email=MARIA, start=clock.now(), end=clock.now() + timedelta(days=2),
                         kind=AbsenceKind.SICK, actor=MARIA, emergency=True)
    new, _ = ctx.leads.receive(NewLead("web", "n1", "New", "n@example.com", None, "Riverside",
                                       "", clock.now()))
    for lead in (new, owned):
        ctx.leads.press(lead_id=lead.id or 0, kind=ActivityKind.CALL, by=JORDAN)
        ctx.leads.set_appointment(lead_id=lead.id or 0, by=JORDAN, at=clock.now())
    return ctx.reports.monthly(date(2026, 11, 1))


def test_the_osc_row_counts_what_the_backup_set_as_the_messages_promise(
        config: AppConfig) -> None:
    rows = {(r.person, r.segment): r for r in _covered_month(config)}
    maria, jordan = rows[(MARIA, "normal")], rows[(JORDAN, "coverage")]
    # "Both count in the OSC's monthly numbers, noted as set by the backup."
    assert (maria.credited, maria.credited_set_by_backup, maria.appointments) == (2, 2, 0)
    assert (jordan.appointments, jordan.backup_bonus_appointments, jordan.credited) == (2, 1, 0)
    digest = digest_message(list(rows.values()), config=config, period="week 45 of 2026")
    lines = digest.blocks[1].items  # type: ignore[union-attr]
    assert any(plain(line).startswith("Maria (normal)") and
               "2 appointments in their numbers (2 set by the backup)" in line
               for line in lines), lines
    csv_header = report_csv(list(rows.values())).splitlines()[0]
    assert csv_header.endswith("credited_appointments,credited_set_by_backup")


def test_report_fits_80_columns(config: AppConfig) -> None:
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(report_table(_covered_month(config), config=config,
                               title="Online sales, 2026-11"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Maria" in text and "2 (+2)" in text
