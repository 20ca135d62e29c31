"""Reports over stored leads: monthly numbers and the weekly digest."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.config import AppConfig
from bot.ports import Repositories
from bot.reports import ReportRow, build_report, month_bounds


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


def last_week(now: datetime) -> tuple[datetime, datetime]:
    """The seven days before `now`."""
    return now - timedelta(days=7), now
