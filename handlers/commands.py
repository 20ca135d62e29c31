"""Slash commands, the same for every chat platform: parse text, call one service, render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.coverage.briefs import more
from bot.coverage.facts import SHOWN
from bot.durations import parse_duration
from bot.errors import InvalidInput
from bot.messages import Bullets, Context, Header, Message, Section
from bot.model import AbsenceKind, Coverage, CoverageMode, CoverageStatus, Task
from bot.ports.records import Page
from bot.team.names import named
from bot.timefmt import when, window

USAGE = ("Usage: /going-on-leave START END [kind] [backup:EMAIL] [for:OSC_EMAIL] [notes…] — "
         "dates as YYYY-MM-DD, END is your last day off; or /going-on-leave now 2d sick "
         "for an emergency. Kinds: " + ", ".join(k.value for k in AbsenceKind))


@dataclass(frozen=True)
class LeaveRequest:
    """A parsed `/going-on-leave`."""

    osc_email: str
    start: datetime
    end: datetime
    kind: AbsenceKind
    backup_email: str | None
    notes: str
    emergency: bool


def find_email(config: AppConfig | None, word: str) -> str:
    """The email of a person typed as an email, a name or a first name (`Jordan`,
    `jordan_kim`, `@jordan`); a Slack @mention arrives here already as an email."""
    word = word.strip().strip(",").removeprefix("@")
    if "@" in word or config is None:
        return word.lower()
    wanted = word.replace("_", " ").replace(".", " ").lower()
    matches = ([p for p in config.people if p.name.lower() == wanted]
               or [p for p in config.people if p.name.split()[0].lower() == wanted])
    if len(matches) == 1:
        return matches[0].email
    if not matches:
        raise InvalidInput(f"nobody on the team is called {word!r}; use their email or "
                           "@mention them", field="person")
    raise InvalidInput(f"{word!r} could be {' or '.join(p.name for p in matches)}; use their "
                       "email or @mention them", field="person")


@dataclass(frozen=True)
class LeaveDraft:
    """What `/going-on-leave` text says so far; a form is pre-filled from it."""

    first: date | None = None
    last: date | None = None
    kind: AbsenceKind | None = None
    backup_email: str | None = None
    osc_email: str | None = None
    notes: str = ""


def _options(words: list[str], config: AppConfig | None
             ) -> tuple[AbsenceKind | None, str | None, str | None, list[str]]:
    """kind, backup, OSC and the words left as notes, from the words after the dates."""
    kind: AbsenceKind | None = None
    backup = osc = None
    notes: list[str] = []
    words = list(words)
    while words:
        word = words.pop(0)
        lowered = word.lower()
        if lowered.startswith("backup:"):
            backup = find_email(config, word[len("backup:"):] or (words.pop(0) if words else ""))
        elif lowered.startswith("for:"):
            osc = find_email(config, word[len("for:"):] or (words.pop(0) if words else ""))
        elif lowered == "for" and words and not notes:
            osc = find_email(config, words.pop(0))
        elif not notes and kind is None and lowered in {k.value for k in AbsenceKind}:
            kind = AbsenceKind(lowered)
        else:
            notes.append(word)
    return kind, backup, osc, notes


def leave_draft(text: str, *, config: AppConfig | None = None) -> LeaveDraft | None:
    """The parts of an incomplete `/going-on-leave` that can be read, or None when the
    text holds something that is plainly wrong (a date that is not a date)."""
    words = text.split()
    days: list[date] = []
    while words and len(days) < 2 and any(c.isdigit() for c in words[0]):
        try:
            days.append(date.fromisoformat(words[0]))
        except ValueError:
            return None
        words.pop(0)
    try:
        kind, backup, osc, notes = _options(words, config)
    except InvalidInput:
        return None
    return LeaveDraft(days[0] if days else None, days[1] if len(days) > 1 else None, kind,
                      backup, osc, " ".join(notes))


def parse_going_on_leave(text: str, *, actor: str, zone: str, now: datetime,
                         config: AppConfig | None = None) -> LeaveRequest:
    """Read `/going-on-leave` arguments; whole local days, END inclusive. People may be
    written as emails or, given `config`, names (`for Maria`, `backup:jordan`)."""
    words = text.split()
    if len(words) < 2:
        raise InvalidInput(USAGE)
    tz = ZoneInfo(zone)
    emergency = words[0].lower() == "now"
    if emergency:
        start = now
        try:
            end = now + parse_duration(words[1])
        except InvalidInput:
            end = _day_start(_date(words[1], "end"), tz) + timedelta(days=1)
    else:
        first, last = _date(words[0], "start"), _date(words[1], "end")
        if last < first:
            raise InvalidInput("the last day off is before the first", field="end")
        start, end = _day_start(first, tz), _day_start(last, tz) + timedelta(days=1)
    kind, backup, osc, notes = _options(words[2:], config)
    return LeaveRequest(osc or actor.lower(), start, end, kind or AbsenceKind.VACATION, backup,
                        " ".join(notes), emergency)


def going_on_leave(ctx: AppContext, *, text: str, actor: str) -> Message:
    """Handle `/going-on-leave`: declare the absence and say what will happen."""
    request = parse_going_on_leave(text, actor=actor, zone=ctx.config.zone_of(actor),
                                   now=ctx.clock.now(), config=ctx.config)
    coverage = ctx.coverage.declare(
        osc_email=request.osc_email, start=request.start, end=request.end, kind=request.kind,
        actor=actor, backup_email=request.backup_email, notes=request.notes,
        emergency=request.emergency)
    return confirmation(ctx, coverage, zone=ctx.config.zone_of(actor))


def confirmation(ctx: AppContext, coverage: Coverage, *, zone: str) -> Message:
    """What the person who declared an absence sees."""
    osc = named(ctx.config, coverage.osc_email)
    backup = named(ctx.config, coverage.backup_email)
    state = "started now" if coverage.status is CoverageStatus.ACTIVE else "planned"
    mode = "long-term" if coverage.mode is CoverageMode.LONG_TERM else "short-term"
    text = (f"Coverage {state} for {osc}: {window(coverage.start, coverage.end, zone)}, "
            f"{backup} covering ({mode}).")
    if coverage.backup_email is None:
        text = (f"Coverage {state} for {osc}: {window(coverage.start, coverage.end, zone)}, "
                "but NO eligible backup — the managers have been alerted.")
    return Message(text=text, blocks=(Section(text),))


def coverage_status(ctx: AppContext, *, zone: str) -> Message:
    """Handle `/coverage`: who is out, who covers whom, until when."""
    rows = []
    for c in ctx.coverage.open_coverages():
        state = "OUT now" if c.status is CoverageStatus.ACTIVE else "planned"
        rows.append(f"{named(ctx.config, c.osc_email)} — {state}, "
                    f"{window(c.start, c.end, zone)} — covered by "
                    f"{named(ctx.config, c.backup_email)}")
    count = f"{len(rows)} coverage{'' if len(rows) == 1 else 's'} open."
    return Message(text=count, blocks=(
        Header("Coverage"), Bullets("Who is out", tuple(rows), empty="Everyone is in."),
    ))


def im_back(ctx: AppContext, *, actor: str, text: str = "") -> Message:
    """Handle `/im-back` (a manager may add `for:OSC_EMAIL`)."""
    _, _, osc, _ = _options(text.split(), ctx.config)
    coverage = ctx.coverage.im_back(osc_email=osc or actor, actor=actor)
    return Message(text=f"Welcome back, {named(ctx.config, coverage.osc_email)} — routing "
                        "is switching back and your return list is on its way.")


def drill(ctx: AppContext, *, osc_email: str, days: int = 1) -> Message:
    """Handle `/handoff-drill` and `oscbot drill`: rehearse a handoff, switching nothing."""
    osc = ctx.config.find_person(find_email(ctx.config, osc_email))
    if osc is None:
        raise InvalidInput(f"{osc_email} is not on the team", field="osc")
    now = ctx.clock.now()
    choice = ctx.coverage.choose(osc_email=osc.email, start=now,
                                 end=now + timedelta(days=days))
    findings: list[str] = [f"{named(ctx.config, s.email)} would be skipped: {s.reason}"
                           for s in choice.skipped]
    checks: list[str] = []
    calendar = ctx.calendars.rehearse(osc.email)
    if calendar is not None:
        checks.extend(f"calendar: {p}" for p in calendar)
        if not calendar:
            checks.append("calendar: ready (events and automatic replies can be read)")
    if choice.backup is None:
        findings.append("NO eligible backup: leads would stay with the OSC and managers "
                        "would be alerted")
    else:
        for channel, adapter, problems in ctx.coverage.rehearse_routing(
                osc_email=osc.email, backup_email=choice.backup.email):
            checks.extend(f"{channel} ({adapter}): {p}" for p in problems)
            if not problems:
                checks.append(f"{channel} ({adapter}): ready")
    ready = choice.backup is not None and not any(
        "manual" not in c and "ready" not in c for c in checks)
    verdict = "READY" if ready else "NOT READY"
    backup = named(ctx.config, choice.backup.email if choice.backup else None)
    return Message(text=f"Drill for {osc.name}: {verdict}", blocks=(
        Header(f"Practice run for {osc.name}: {verdict} (nothing was switched)"),
        Section(f"Backup would be: {backup}"),
        Bullets("What would be skipped or fail", tuple(findings), empty="Nothing."),
        Bullets("Routing checks", tuple(checks), empty="No routing configured."),
        Context("A drill changes nothing: no routing switched, no messages to the team."),
    ))


def _date(word: str, field: str) -> date:
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise InvalidInput(f"{word!r} is not a date; write it as YYYY-MM-DD", field=field) from None


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def lead_calendar(ctx: AppContext, *, actor: str, person: str | None = None,
                  days: int = 14) -> Message:
    """A person's lead calendar: open follow-ups for the next `days` (managers: anyone's)."""
    who = find_email(ctx.config, person) if person else actor.lower()
    if who != actor.lower() and not ctx.config.is_manager(actor):
        raise InvalidInput("only managers can see someone else's lead calendar", field="person")
    if ctx.config.find_person(who) is None:
        raise InvalidInput(f"{who} is not on the team", field="person")
    now = ctx.clock.now()
    zone = ctx.config.zone_of(actor)
    overdue = ctx.leads.task_page(assignee_email=who, due_before=now, limit=SHOWN)
    upcoming = ctx.leads.task_page(assignee_email=who, due_from=now,
                                   due_before=now + timedelta(days=days), limit=SHOWN)

    def lines(page: Page[Task]) -> tuple[str, ...]:
        return more([f"{when(t.due_at, zone)} — {t.title}" for t in page.items], page.more)

    total = overdue.total + upcoming.total
    return Message(text=f"Lead calendar of {named(ctx.config, who)}: {total} open.",
                   blocks=(
        Header(f"Lead calendar — {named(ctx.config, who)}"),
        Bullets("Overdue", lines(overdue), empty="Nothing overdue."),
        Bullets(f"Next {days} days", lines(upcoming), empty="Nothing scheduled."),
    ))
