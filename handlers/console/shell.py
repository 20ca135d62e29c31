"""`oscbot shell`, `oscbot drill` and `oscbot jobs run`: the console adapter at work."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.context import AppContext
from bot.errors import ConfigError, OscbotError
from bot.messages import Message
from bot.ports.clock import Clock
from handlers import commands
from handlers.actions import press
from handlers.console.chat import ConsoleChat
from handlers.wiring import production_context
from schedules.jobs import job, run_all_due

HELP = """Commands:
  /going-on-leave START END [kind] [for OSC] [backup:PERSON]   declare an absence
  /going-on-leave now 2d sick                                  an emergency, starting now
  /coverage                  who is out and who covers
  /im-back [for OSC]         end your coverage now (managers: someone else's)
  /handoff-drill [OSC]       practice run, switches nothing
  /oscbot calendar [PERSON]  open follow-ups (managers: anyone's)
  (people by email or name: maria@builder.example, Maria, maria_lopez)
  /as EMAIL                  act as someone else on the team
  /tick                      run every job once (calendars, alerts, reminders)
  NUMBER                     press the button with that number
  /help, /quit"""


def console_chat(console: Console) -> Callable[[AppConfig], ConsoleChat]:
    """A factory for a console chat that shows people by name."""
    def make(config: AppConfig) -> ConsoleChat:
        names = {p.email: p.name for p in config.people}
        return ConsoleChat(console=console, name_for=lambda email: names.get(email, email))

    return make


def _context(settings: Settings, clock: Clock, console: Console) -> tuple[AppContext,
                                                                          ConsoleChat]:
    ctx = production_context(config_path=settings.config_path,
                             database_url=settings.database_url, env=dict(os.environ),
                             clock=clock, make_chat=console_chat(console),
                             google_key=settings.google_application_credentials)
    assert isinstance(ctx.chat, ConsoleChat)
    return ctx, ctx.chat


def guarded(console: Console, action: Callable[[], int]) -> int:
    """Run a command; configuration, database and other known errors become clear words."""
    try:
        return action()
    except ConfigError as exc:
        for problem in exc.problems:
            console.print(f"[red]{problem}[/]", highlight=False, soft_wrap=True)
        return 2
    except (OscbotError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        console.print(f"[red]error:[/] the database (DATABASE_URL) cannot be used: {reason}",
                      highlight=False, soft_wrap=True)
        return 2


def upgrade_database(settings: Settings, *, console: Console) -> int:
    """`oscbot db upgrade`: migrate DATABASE_URL and say the revision."""
    from storage.migrate import current_revision, upgrade

    def run() -> int:
        upgrade(settings.database_url)
        console.print(f"database at revision {current_revision(settings.database_url)}")
        return 0

    return guarded(console, run)


def run_shell(settings: Settings, *, console: Console, clock: Clock) -> int:
    """Read commands from the terminal until /quit."""
    return guarded(console, lambda: _loop(settings, console=console, clock=clock))


def _loop(settings: Settings, *, console: Console, clock: Clock) -> int:
    ctx, chat = _context(settings, clock, console)
    actor = ctx.config.oscs[0].email if ctx.config.oscs else ctx.config.people[0].email
    console.print(f"oscbot shell — {ctx.config.team.name}. You are {actor}. /help for help.")
    while True:
        try:
            line = console.input(f"[bold]{actor}>[/] ").strip()
        except EOFError:
            _finish_delivery(ctx, clock)
            return 0
        if line in ("/quit", "/exit"):
            _finish_delivery(ctx, clock)
            return 0
        actor = _handle(ctx, chat, console, line, actor)
        ctx.delivery.deliver_due(clock.now())


def _finish_delivery(ctx: AppContext, clock: Clock, *, within: float = 5.0) -> None:
    """Before leaving, deliver what is held back only by pacing (one message per second
    per conversation), so the last command's messages are shown, not left queued."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ctx.delivery.deliver_due(clock.now())
        if ctx.outbox.settled(within=timedelta(seconds=within)):
            return
        time.sleep(0.2)


def _handle(ctx: AppContext, chat: ConsoleChat, console: Console, line: str, actor: str) -> str:
    command, _, rest = line.partition(" ")
    zone = ctx.config.zone_of(actor)
    try:
        reply: Message | str | None = None
        if command.isdigit():
            pressable = chat.buttons.get(int(command))
            reply = (press(ctx, action=pressable.button.action, value=pressable.button.value,
                           actor=actor) if pressable else f"No button {command}.")
        elif command == "/going-on-leave":
            reply = commands.going_on_leave(ctx, text=rest, actor=actor)
        elif command == "/coverage":
            reply = commands.coverage_status(ctx, zone=zone)
        elif command == "/im-back":
            reply = commands.im_back(ctx, actor=actor, text=rest)
        elif command == "/oscbot" and rest.split()[:1] == ["calendar"]:
            # The same command as in Slack; /lead-calendar is its older name.
            reply = commands.lead_calendar(ctx, actor=actor,
                                           person=" ".join(rest.split()[1:2]) or None)
        elif command == "/lead-calendar":
            reply = commands.lead_calendar(ctx, actor=actor, person=rest.strip() or None)
        elif command == "/handoff-drill":
            reply = commands.drill(ctx, osc_email=rest.strip() or actor)
        elif command == "/as":
            if ctx.config.find_person(rest.strip()) is None:
                reply = f"{rest.strip()!r} is not on the team."
            else:
                return rest.strip().lower()
        elif command == "/tick":
            reply = "; ".join(f"{name}: {summary}" for name, summary in run_all_due(ctx))
        elif command in ("/help", "", "/oscbot"):
            reply = HELP
        else:
            reply = f"Unknown command {command!r}. /help lists them."
    except OscbotError as exc:
        reply = f"Sorry — {exc}"
    if isinstance(reply, Message):
        chat.direct(email=actor, message=reply)
    elif reply:
        console.print(reply, highlight=False)
    return actor


def drill_report(settings: Settings, *, osc_email: str, console: Console, clock: Clock) -> int:
    """Print a practice-run report; exit 0 when ready, 1 when something would fail."""
    def report() -> int:
        ctx, chat = _context(settings, clock, console)
        message = commands.drill(ctx, osc_email=osc_email)
        chat.direct(email=osc_email, message=message)
        return 0 if "NOT READY" not in message.text else 1

    return guarded(console, report)


def run_job(settings: Settings, *, name: str, console: Console, clock: Clock) -> int:
    """Run one named job now and print its summary."""
    def one() -> int:
        try:
            entry = job(name)
        except KeyError as exc:
            console.print(f"[red]error:[/] {exc.args[0]}", highlight=False)
            return 2
        ctx, _ = _context(settings, clock, console)
        console.print(f"{entry.name}: {entry.run(ctx)}")
        ctx.delivery.deliver_due(clock.now())
        return 0

    return guarded(console, one)


def print_report(settings: Settings, *, month: str, csv_path: Path | None, console: Console,
                 clock: Clock) -> int:
    """`oscbot report`: the month's table on screen and as CSV."""
    from datetime import date

    from handlers.reports import report_csv, report_table

    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        console.print(f"[red]error:[/] {month!r} is not a month; write it as YYYY-MM",
                      highlight=False)
        return 2

    def run() -> int:
        ctx, _ = _context(settings, clock, console)
        rows = ctx.reports.monthly(first)
        if rows:
            console.print(report_table(rows, config=ctx.config, title=f"Online sales, {month}"))
        else:
            console.print(f"No data for {month}: no leads, appointments or protection lapses "
                          "were recorded that month.")
        target = csv_path or Path(f"report-{month}.csv")
        target.write_text(report_csv(rows), encoding="utf-8")
        console.print(f"CSV written to {target}")
        return 0

    return guarded(console, run)
