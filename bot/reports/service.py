"""Reports over stored leads: monthly numbers and the weekly digest."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config.model import AppConfig
from bot.ports.repositories import Repositories
from bot.reports.numbers import ReportRow, build_report, month_bounds


def report_between(*, config: AppConfig, repos: Repositories, start: datetime,
                   end: datetime) -> list[ReportRow]:
    """Numbers for leads received, appointments set and lapses recorded in `[start, end)`."""
    leads = repos.leads.list(received_from=start, received_to=end)
    appointments = repos.appointments.list(at_from=start, at_to=end)
    lapsed = repos.leads.lapsed(lapsed_from=start, lapsed_to=end)
    return build_report(leads=leads, appointments=appointments, lapsed=lapsed,
                        speed_to_lead=config.policies.speed_to_lead)


def monthly_report(*, config: AppConfig, repos: Repositories, month: date) -> list[ReportRow]:
    """The month's numbers, the month taken in the team's time zone."""
    start, end = month_bounds(month, config.team.timezone)
    return report_between(config=config, repos=repos, start=start, end=end)


def last_week(now: datetime, zone: str) -> tuple[datetime, datetime, date]:
    """The ISO week before the one `now` falls in, in `zone`: (start, end, its Monday).

    Monday 00:00 to Monday 00:00 local time; the label comes from that Monday's ISO
    week (a digest sent on Monday of week 49 reports week 48).
    """
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    this_monday = today - timedelta(days=today.weekday())
    monday = this_monday - timedelta(days=7)
    start = datetime.combine(monday, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(this_monday, time(0), tzinfo=tz).astimezone(UTC)
    return start, end, monday
