"""Monthly numbers per person and segment, and the weekly digest with its chart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.config import AppConfig
from bot.fakes import FixedClock, RecordingChat, in_memory_repositories
from bot.model import AbsenceKind, ActivityKind, CreditTo
from bot.reports import build_report, month_bounds, percentile
from bot.services.leads import NewLead
from bot.services.reports import last_week, monthly_report
from handlers.context import build_context
from handlers.reports import report_csv
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
    rows = {(r.person, r.segment): r for r in monthly_report(
        config=config, repos=ctx.repos, month=date(2026, 11, 1))}
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
    assert ctx.repos.outbox.get("digest:2026-W48") is not None


def test_digest_names_the_iso_week_it_reports() -> None:
    # Monday Jan 4 2027, 9:00 in Chicago: the digest covers Dec 28 - Jan 3, ISO week 53 of 2026.
    start, end, monday = last_week(datetime(2027, 1, 4, 15, tzinfo=UTC), "America/Chicago")
    assert monday.isocalendar()[:2] == (2026, 53)
    assert start == datetime(2026, 12, 28, 6, tzinfo=UTC)
    assert end == datetime(2027, 1, 4, 6, tzinfo=UTC)
    # Sunday night still belongs to the week before.
    _, _, sunday = last_week(datetime(2027, 1, 4, 5, tzinfo=UTC), "America/Chicago")
    assert sunday.isocalendar()[:2] == (2026, 52)
