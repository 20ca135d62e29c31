"""Named, idempotent jobs and their triggers: the one registry the scheduler and
`oscbot jobs run NAME` share. Running a job twice does no harm: every message it
queues carries a unique outbox key, and every switch a journal entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from handlers.context import AppContext


@dataclass(frozen=True)
class Job:
    """A named job, how often it runs, and what it does."""

    name: str
    every: timedelta
    run: Callable[[AppContext], str]
    description: str


def sync_calendars(ctx: AppContext) -> str:
    """Read every OSC calendar and keep coverages in step."""
    report = ctx.calendars.sync_all()
    return (f"read {report.read} calendars ({report.unchanged} unchanged, "
            f"{report.failed} failed, {report.suspect} suspect), "
            f"{report.changes} coverage changes")


def coverage_tick(ctx: AppContext) -> str:
    """Heads-ups, starts, unfinished switches and returns that are due."""
    report = ctx.coverage.tick()
    return (f"{report.heads_up} heads-ups, {report.started} started, "
            f"{report.resumed} resumed, {report.ended} ended")


def sweep_leads(ctx: AppContext) -> str:
    """Alert on uncontacted leads and escalate to the managers."""
    report = ctx.leads.sweep()
    return f"{report.alerts} alerts, {report.escalations} escalations"


def send_reminders(ctx: AppContext) -> str:
    """DM the tasks that have come due."""
    return f"{ctx.leads.remind()} reminders"


def deliver_outbox(ctx: AppContext) -> str:
    """Send queued messages."""
    result = ctx.delivery.deliver_due(ctx.clock.now())
    return f"{result}"


def renew_calendar_channels(ctx: AppContext) -> str:
    """Open or renew Google push channels so calendar changes arrive within seconds."""
    from calendars.google import GoogleCalendarSource
    from calendars.google_push import WatchChannel, channels_to_renew, close_channel, open_channel

    if not ctx.public_url:
        return "push disabled (OSCBOT_PUBLIC_URL not set); polling only"
    address = ctx.public_url.rstrip("/") + "/calendar/google/notifications"

    def renew(osc_email: str, source: GoogleCalendarSource) -> bool:
        state = ctx.repos.calendar_sync.get(osc_email)
        current = WatchChannel.from_cursor(osc_email, state.cursor) if state else None
        if current is not None and not channels_to_renew([current], now=ctx.clock.now()):
            return False
        channel = open_channel(source.service, osc_email=osc_email,
                               calendar_id=source.calendar_id, address=address)
        ctx.calendars.remember(osc_email, channel.to_cursor())
        if current is not None:
            close_channel(source.service, current)
        return True

    renewed = 0
    for osc_email, source in ctx.calendars.sources.items():
        if isinstance(source, GoogleCalendarSource):
            # One calendar refusing a channel must not keep the others from renewing.
            renewed += bool(ctx.leads.guard.run("renew_calendar_channels",
                                                f"calendar:{osc_email}",
                                                partial(renew, osc_email, source)))
    return f"{renewed} channels opened or renewed"


def renew_outlook_subscriptions(ctx: AppContext) -> str:
    """Create or renew Graph subscriptions so Outlook calendar changes arrive within seconds."""
    from calendars.outlook_push import OutlookSubscriptions

    if not ctx.public_url:
        return "Outlook notifications disabled (OSCBOT_PUBLIC_URL not set); polling only"
    subscriptions = OutlookSubscriptions(calendars=ctx.calendars, clock=ctx.clock,
                                         public_url=ctx.public_url)
    changed, problems = subscriptions.ensure_all()
    return (f"{changed} Outlook subscriptions created or renewed"
            + (f"; {len(problems)} failed (oscbot drill OSC_EMAIL says why)" if problems else ""))


def hand_over_crm_records(ctx: AppContext) -> str:
    """Give backups the CRM leads and tasks that arrived since the coverage began."""
    swept, problems = ctx.coverage.hand_over_records()
    return (f"{swept} active coverages checked"
            + (f"; {len(problems)} problems, retried next run" if problems else ""))


def protect_coverage(ctx: AppContext) -> str:
    """Warn before credit protection lapses on a lead; record lapses."""
    return f"{ctx.leads.protect()} protection warnings or lapses"


def weekly_digest(ctx: AppContext) -> str:
    """Monday 9:00 (team time): last week's numbers and a chart in the team channel."""
    import logging
    from zoneinfo import ZoneInfo

    from bot.errors import ChatError
    from bot.services.reports import last_week, report_between
    from handlers.reports import digest_chart, digest_message

    now = ctx.clock.now()
    local = now.astimezone(ZoneInfo(ctx.config.team.timezone))
    if local.weekday() != 0 or local.hour < 9:
        return "not due (Mondays from 9:00 team time)"
    start, end, monday = last_week(now, ctx.config.team.timezone)
    year, week, _ = monday.isocalendar()
    rows = report_between(config=ctx.config, repos=ctx.repos, start=start, end=end)
    period = f"week {week} of {year}"
    if not ctx.notifier.post(key=f"digest:{year}-W{week:02d}",
                             message=digest_message(rows, config=ctx.config, period=period)):
        return "already posted"
    try:
        ctx.chat.upload(channel=ctx.config.team.channel, filename=f"digest-{year}-W{week}.png",
                        content=digest_chart(rows, config=ctx.config, period=period),
                        title=f"Speed to lead, {period}")
    except ChatError as exc:
        # The numbers are in the posted text; a missing chart is not worth a retry storm.
        logging.getLogger(__name__).warning("digest chart not uploaded: %s", exc)
    return f"digest for {period} posted ({len(rows)} rows)"



JOBS: tuple[Job, ...] = (
    Job("sync_calendars", timedelta(seconds=60), sync_calendars, sync_calendars.__doc__ or ""),
    Job("coverage_tick", timedelta(seconds=30), coverage_tick, coverage_tick.__doc__ or ""),
    Job("sweep_leads", timedelta(seconds=15), sweep_leads, sweep_leads.__doc__ or ""),
    Job("send_reminders", timedelta(seconds=60), send_reminders, send_reminders.__doc__ or ""),
    Job("hand_over_crm_records", timedelta(minutes=5), hand_over_crm_records,
        hand_over_crm_records.__doc__ or ""),
    Job("protect_coverage", timedelta(minutes=15), protect_coverage,
        protect_coverage.__doc__ or ""),
    Job("deliver_outbox", timedelta(seconds=2), deliver_outbox, deliver_outbox.__doc__ or ""),
    Job("renew_calendar_channels", timedelta(hours=1), renew_calendar_channels,
        renew_calendar_channels.__doc__ or ""),
    Job("renew_outlook_subscriptions", timedelta(hours=1), renew_outlook_subscriptions,
        renew_outlook_subscriptions.__doc__ or ""),
    Job("weekly_digest", timedelta(hours=1), weekly_digest, weekly_digest.__doc__ or ""),
)


_COUNT = re.compile(r"\b(\d+)\b")
_IDLE_WORDS = ("not due", "already posted", "polling only")
_ALL_UNCHANGED = re.compile(r"read (\d+) calendars \((\d+) unchanged, 0 failed\), 0 coverage")


def did_something(summary: str) -> bool:
    """False for a job summary that reports nothing done (every count zero, not due)."""
    if any(word in summary for word in _IDLE_WORDS):
        return False
    unchanged = _ALL_UNCHANGED.search(summary)
    if unchanged and unchanged.group(1) == unchanged.group(2):
        return False  # every calendar read was unchanged and nothing failed or changed
    counts = [int(n) for n in _COUNT.findall(summary)]
    return not counts or any(counts)


def job(name: str) -> Job:
    """The job with this name; KeyError listing the known names otherwise."""
    for candidate in JOBS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no job {name!r}; known jobs: {', '.join(j.name for j in JOBS)}")


def run_all_due(ctx: AppContext) -> list[tuple[str, str]]:
    """Run every job once in registry order (the demo and tests use this as one tick)."""
    return [(j.name, j.run(ctx)) for j in JOBS]

