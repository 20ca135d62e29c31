"""Named, idempotent jobs and their triggers: the one registry the scheduler and
`oscbot jobs run NAME` share. Running a job twice does no harm: every message it
queues carries a unique outbox key, and every switch a journal entry.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from bot.context import AppContext
from schedules.items import Split, Tally, take_over

# Slack retries an event within minutes; two days covers any retry and any replay.
INBOUND_RETENTION = timedelta(days=2)
# A work item only matters during its slot; a day keeps them for a look afterwards.
WORK_ITEM_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Job:
    """A named job, how often it runs, and what it does.

    A job with `split` is worked as leased items by every replica (see schedules.items);
    an `every_replica` job runs on each replica at each tick, not once per slot.
    """

    name: str
    every: timedelta
    run: Callable[[AppContext], str]
    description: str
    split: Split | None = None
    every_replica: bool = False


def _calendar_work(ctx: AppContext, keys: Sequence[str]) -> Tally:
    return Counter(dataclasses.asdict(ctx.calendars.sync_many(keys)))


def _calendar_summary(ctx: AppContext, tally: Tally) -> str:
    return (f"read {tally['read']} calendars ({tally['unchanged']} unchanged, "
            f"{tally['failed']} failed, {tally['suspect']} suspect), "
            f"{tally['changes']} coverage changes")


# A batch is read concurrently (the sync service's pool); the lease outlasts the
# longest read the service waits for plus applying the batch.
CALENDARS = Split(keys=lambda ctx: sorted(ctx.calendars.sources), work=_calendar_work,
                  describe=_calendar_summary, batch=8, lease=timedelta(seconds=90))


def sync_calendars(ctx: AppContext) -> str:
    """Read every OSC calendar and keep coverages in step."""
    return CALENDARS.run_all(ctx)


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


def _push_calendars(kind: str) -> Callable[[AppContext], list[str]]:
    def keys(ctx: AppContext) -> list[str]:
        push = ctx.push.get(kind)
        return push.calendars() if push is not None else []
    return keys


def _renew_push(kind: str, job_name: str) -> Callable[[AppContext, Sequence[str]], Tally]:
    def renew(ctx: AppContext, keys: Sequence[str]) -> Tally:
        push = ctx.push.get(kind)
        tally: Tally = Counter()
        if push is None:
            return tally
        for osc_email in keys:
            # One calendar refusing its push must not keep the others from renewing: it is
            # recorded, announced once and counted among the problems.
            found = ctx.guard.run(job_name, f"calendar:{osc_email}",
                                  partial(push.ensure, osc_email))
            changed, problems = found if found is not None else (0, [osc_email])
            tally.update(renewed=changed, problems=len(problems))
        return tally
    return renew


def _push_summary(kind: str, what: str, disabled: str) -> Callable[[AppContext, Tally], str]:
    def summary(ctx: AppContext, tally: Tally) -> str:
        if kind not in ctx.push:
            return f"{disabled} disabled (OSCBOT_PUBLIC_URL not set); polling only"
        problems = tally["problems"]
        return (f"{tally['renewed']} {what}"
                + (f"; {problems} failed (oscbot drill OSC_EMAIL says why)" if problems
                   else ""))
    return summary


GOOGLE_CHANNELS = Split(keys=_push_calendars("google"),
                        work=_renew_push("google", "renew_calendar_channels"),
                        describe=_push_summary("google", "channels opened or renewed", "push"))


def renew_calendar_channels(ctx: AppContext) -> str:
    """Open or renew Google push channels so calendar changes arrive within seconds."""
    return GOOGLE_CHANNELS.run_all(ctx)


OUTLOOK_SUBSCRIPTIONS = Split(
    keys=_push_calendars("outlook"),
    work=_renew_push("outlook", "renew_outlook_subscriptions"),
    describe=_push_summary("outlook", "Outlook subscriptions created or renewed",
                           "Outlook notifications"))


def renew_outlook_subscriptions(ctx: AppContext) -> str:
    """Create or renew Graph subscriptions so Outlook calendar changes arrive within seconds."""
    return OUTLOOK_SUBSCRIPTIONS.run_all(ctx)


def _handover_coverages(ctx: AppContext) -> list[str]:
    return [str(c.id) for c in ctx.coverage.covered_now()]


def _hand_over(ctx: AppContext, keys: Sequence[str]) -> Tally:
    # The coverage service isolates each coverage (ItemGuard) and skips any that ended.
    swept, problems = ctx.coverage.hand_over_records({int(k) for k in keys if k.isdigit()})
    return Counter(swept=swept, problems=len(problems))


def _handover_summary(ctx: AppContext, tally: Tally) -> str:
    problems = tally["problems"]
    return (f"{tally['swept']} active coverages checked"
            + (f"; {problems} problems, retried next run" if problems else ""))


# CRM calls page through the records of one coverage: give a slow CRM the whole interval.
CRM_SWEEP = Split(keys=_handover_coverages, work=_hand_over, describe=_handover_summary,
                  lease=timedelta(minutes=5))


def hand_over_crm_records(ctx: AppContext) -> str:
    """Give backups the CRM leads and tasks that arrived since the coverage began."""
    return CRM_SWEEP.run_all(ctx)


def protect_coverage(ctx: AppContext) -> str:
    """Warn before credit protection lapses on a lead; record lapses."""
    return f"{ctx.leads.protect()} protection warnings or lapses"


def weekly_digest(ctx: AppContext) -> str:
    """Monday 9:00 (team time): last week's numbers and a chart in the team channel."""
    return ctx.reports.weekly_digest()


def prune_records(ctx: AppContext) -> str:
    """Forget inbound event ids past their retry window and old work items."""
    now = ctx.clock.now()
    events = ctx.inbound.prune(before=now - INBOUND_RETENTION)
    items = ctx.slots.prune(before=now - WORK_ITEM_RETENTION)
    return f"pruned {events} inbound event ids and {items} work items"


TAKE_OVER = "take_over_work"


def take_over_work(ctx: AppContext) -> str:
    """On every replica: work split jobs' items nobody holds (a lease that ran out)."""
    return take_over(ctx, [(j.name, j.split) for j in JOBS if j.split is not None])


def _job(name: str, every: timedelta, run: Callable[[AppContext], str], *,
         split: Split | None = None, every_replica: bool = False) -> Job:
    return Job(name, every, run, run.__doc__ or "", split=split, every_replica=every_replica)


JOBS: tuple[Job, ...] = (
    _job("sync_calendars", timedelta(seconds=60), sync_calendars, split=CALENDARS),
    Job("coverage_tick", timedelta(seconds=30), coverage_tick, coverage_tick.__doc__ or ""),
    Job("sweep_leads", timedelta(seconds=15), sweep_leads, sweep_leads.__doc__ or ""),
    Job("send_reminders", timedelta(seconds=60), send_reminders, send_reminders.__doc__ or ""),
    _job("hand_over_crm_records", timedelta(minutes=5), hand_over_crm_records,
         split=CRM_SWEEP),
    Job("protect_coverage", timedelta(minutes=15), protect_coverage,
        protect_coverage.__doc__ or ""),
    Job("deliver_outbox", timedelta(seconds=2), deliver_outbox, deliver_outbox.__doc__ or ""),
    _job("renew_calendar_channels", timedelta(hours=1), renew_calendar_channels,
         split=GOOGLE_CHANNELS),
    _job("renew_outlook_subscriptions", timedelta(hours=1), renew_outlook_subscriptions,
         split=OUTLOOK_SUBSCRIPTIONS),
    Job("weekly_digest", timedelta(hours=1), weekly_digest, weekly_digest.__doc__ or ""),
    _job(TAKE_OVER, timedelta(seconds=15), take_over_work, every_replica=True),
    _job("prune_records", timedelta(hours=1), prune_records),
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

