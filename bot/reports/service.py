"""Reports over stored leads: a period's numbers, the month's, and the weekly digest."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config.model import AppConfig
from bot.delivery.notify import Notifier
from bot.errors import ChatError
from bot.model import AuditEntry
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from bot.ports.reports import ChartRenderer
from bot.ports.repositories import Repositories
from bot.reports.digest import digest_chart, digest_message
from bot.reports.numbers import ReportRow, build_report, month_bounds

log = logging.getLogger(__name__)


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


class ReportService:
    """Accountability: per person numbers, the weekly digest, and the audit trail."""

    def __init__(self, *, config: AppConfig, repos: Repositories, clock: Clock,
                 notifier: Notifier, chat: ChatPort, charts: ChartRenderer) -> None:
        self._config = config
        self._repos = repos
        self._clock = clock
        self._notifier = notifier
        self._chat = chat
        self._charts = charts

    def between(self, start: datetime, end: datetime) -> list[ReportRow]:
        """Numbers for leads received, appointments set and lapses recorded in `[start, end)`."""
        leads = self._repos.leads.list(received_from=start, received_to=end)
        appointments = self._repos.appointments.list(at_from=start, at_to=end)
        lapsed = self._repos.leads.lapsed(lapsed_from=start, lapsed_to=end)
        return build_report(leads=leads, appointments=appointments, lapsed=lapsed,
                            speed_to_lead=self._config.policies.speed_to_lead)

    def monthly(self, month: date) -> list[ReportRow]:
        """The month's numbers, the month taken in the team's time zone."""
        start, end = month_bounds(month, self._config.team.timezone)
        return self.between(start, end)

    def weekly_digest(self) -> str:
        """Monday from 9:00 (team time): last week's numbers in the team channel, once, and
        a chart beside them; says what it did."""
        now = self._clock.now()
        zone = self._config.team.timezone
        local = now.astimezone(ZoneInfo(zone))
        if local.weekday() != 0 or local.hour < 9:
            return "not due (Mondays from 9:00 team time)"
        start, end, monday = last_week(now, zone)
        year, week, _ = monday.isocalendar()
        rows = self.between(start, end)
        period = f"week {week} of {year}"
        if not self._notifier.post(key=f"digest:{year}-W{week:02d}",
                                   message=digest_message(rows, config=self._config,
                                                          period=period)):
            return "already posted"
        try:
            self._chat.upload(channel=self._config.team.channel,
                              filename=f"digest-{year}-W{week}.png",
                              content=digest_chart(rows, config=self._config, period=period,
                                                   charts=self._charts),
                              title=f"Speed to lead, {period}")
        except ChatError as exc:
            # The numbers are in the posted text; a missing chart is not worth a retry storm.
            log.warning("digest chart not uploaded: %s", exc)
        return f"digest for {period} posted ({len(rows)} rows)"

    def audit_trail(self, *, subject: str | None = None) -> list[AuditEntry]:
        """Every recorded switch and decision, oldest first, optionally for one subject."""
        return self._repos.audit.list(subject=subject)
