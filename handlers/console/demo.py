"""`oscbot demo`: the whole story offline, on the example team, with a compressed clock.

Maria's calendar says vacation Tue Dec 1 – Fri Dec 4. oscbot plans coverage,
posts a heads-up, switches routing to Jordan, sends leads to Jordan, chases
the one nobody called, reminds Jordan of Maria's tasks, and hands everything
back on Saturday with a return-to-office list.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from bot.config.examples import EXAMPLES
from bot.config.loader import load_config
from bot.config.model import AppConfig
from bot.context import AppContext
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.leads.service import NewLead
from bot.messages import ActionId, Message
from bot.model import ActivityKind, Lead, LeadStatus
from bot.ports.chat import ChatPort, MessageRef
from bot.timefmt import when
from handlers.actions import press
from handlers.console.chat import ConsoleChat
from handlers.wiring import sql_context
from schedules.jobs import run_all_due

ZONE = ZoneInfo("America/Chicago")
MARIA = "maria@riverside-homes.example"
JORDAN = "jordan@riverside-homes.example"


def local(text: str) -> datetime:
    """A Central-time wall-clock moment of the demo week, as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(ZoneInfo("UTC"))


class Demo:
    """Drives the scenario: moves the clock, runs the jobs, narrates."""

    def __init__(self, *, console: Console, config: AppConfig, database_url: str,
                 base: Path = EXAMPLES) -> None:
        self.console = console
        self.clock = FixedClock(local("2026-11-30T08:00"))
        names = {p.email: p.name for p in config.people}
        self.chat = ConsoleChat(console=console, name_for=lambda e: names.get(e, e),
                                stamp=lambda: when(self.clock.now(), config.team.timezone))
        # Maria's history before the story starts goes to a transcript nobody reads.
        self.history = RecordingChat()
        self.shown = SwitchedChat(self.history)
        self.ctx: AppContext
        self.ctx, self.close = sql_context(config=config, database_url=database_url,
                                           clock=self.clock, chat=self.shown, base=base)

    def at(self, moment: str, what: str) -> None:
        """Move the clock, say what happens, run every job once."""
        self.clock.set(local(moment))
        self.console.rule(f"[bold]{when(self.clock.now(), 'America/Chicago')}[/] — {what}")
        run_all_due(self.ctx)

    def narrate(self, text: str) -> None:
        """A line of story between messages."""
        self.console.print(f"[dim]→ {text}[/]")

    def press(self, label: str, action: ActionId, value: str, actor: str) -> None:
        """Someone presses a button; show their reply and deliver what it queued."""
        reply = press(self.ctx, action=action, value=value, actor=actor)
        who = self.ctx.config.person(actor).name
        self.console.print(f"[green]{who} presses [{label}][/] → {reply}")
        self.ctx.delivery.deliver_due(self.clock.now())

    def lead(self, external_id: str, name: str, community: str, message: str,
             *, phone: str, email: str) -> Lead:
        """A lead arrives from the website form."""
        lead, _ = self.ctx.leads.receive(NewLead(
            source="website", external_id=external_id, name=name, email=email, phone=phone,
            community=community, message=message, received_at=self.clock.now()))
        self.narrate(f"New web lead #{lead.id} ({community}) → {lead.assignment_reason}")
        self.ctx.delivery.deliver_due(self.clock.now())
        return lead

    def seed(self) -> None:
        """Maria's book before she leaves: a hot lead she owns, and a task due Wednesday."""
        chen, _ = self.ctx.leads.receive(NewLead(
            source="website", external_id="f-7001", name="Wei Chen", email="wei@example.com",
            phone="+15125550177", community="Riverside", message="Lot 14 pricing?",
            received_at=local("2026-11-20T11:00")))
        self.ctx.leads.log_activity(lead_id=_id(chen), kind=ActivityKind.CALL,
                                    direction="outbound", by=MARIA,
                                    at=local("2026-11-20T11:03"), two_way=True,
                                    notes="Loves lot 14; wants to bring parents")
        self.ctx.leads.rate(lead_id=_id(chen), by=MARIA, rating="hot")
        for task in self.ctx.leads.open_tasks(owner_email=MARIA):
            self.ctx.leads.complete_task(task_id=task.id or 0, by=MARIA)
        self.ctx.leads.add_task(title="Call Wei Chen about lot 14 with updated pricing",
                                due_at=local("2026-12-02T10:00"), owner=MARIA, by=MARIA,
                                lead_id=chen.id)
        # Maria's history before the story starts: delivered, but not shown.
        self.ctx.delivery.deliver_due(self.clock.now())
        self.shown.target = self.chat
        self.chen = chen


class SwitchedChat:
    """A chat port that sends through whichever chat it is pointed at now."""

    def __init__(self, target: ChatPort) -> None:
        self.target = target

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """Post through the current chat."""
        return self.target.post(channel=channel, message=message, key=key)

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """DM through the current chat."""
        return self.target.direct(email=email, message=message, key=key)

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """Look in the current chat."""
        return self.target.find_sent(key=key, channel=channel, email=email, since=since)

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """Edit through the current chat."""
        self.target.update(ref=ref, message=message)

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """Share a file through the current chat."""
        return self.target.upload(channel=channel, filename=filename, content=content,
                                  title=title)


def _id(lead: Lead) -> int:
    assert lead.id is not None
    return lead.id


def play(console: Console, *, config_path: Path | None = None,
         env: Mapping[str, str] | None = None) -> int:
    """Play the demo in a throwaway SQLite database; returns the exit code.

    `config_path` may name another copy of the example team (the one `oscbot init`
    writes, edited at will) as long as the story's cast is still in it.
    """
    path = config_path or EXAMPLES / "app.yaml"
    config = load_config(path, env=dict(env or {}))
    missing = cast_problem(config)
    if missing:
        console.print(f"[red]error:[/] {path}: {missing}", highlight=False)
        return 2
    with tempfile.TemporaryDirectory(prefix="oscbot-demo-") as folder:
        demo = Demo(console=console, config=config,
                    database_url=f"sqlite:///{Path(folder) / 'demo.db'}",
                    base=path.resolve().parent)
        try:
            _story(demo)
        finally:
            demo.close()
    return 0


def cast_problem(config: AppConfig) -> str | None:
    """Why the demo story cannot play on this team, or None: it needs the example's OSC
    (with her calendar), her backup and the communities its leads come from."""
    maria = config.find_person(MARIA)
    if maria is None or maria.calendar is None or JORDAN not in maria.backups:
        return (f"the demo plays the example team's story and needs {MARIA} (an OSC with a "
                f"calendar) with {JORDAN} as a backup; `oscbot init` writes that team")
    unknown = {"Riverside", "Oak Hill"} - config.communities()
    if unknown:
        return f"the demo's leads come from {', '.join(sorted(unknown))}; keep those communities"
    return None


def _story(demo: Demo) -> None:
    console = demo.console
    console.print("[bold]oscbot demo[/] — Riverside Homes, online sales. Maria's calendar "
                  "(an ICS feed) says: Vacation, Tue Dec 1 – Fri Dec 4.\n")
    demo.clock.set(local("2026-11-30T07:55"))
    demo.seed()
    demo.at("2026-11-30T08:00", "calendar sync finds Maria's vacation; heads-up to the team")
    demo.narrate("“Vacation planning with Jordan” (30 min) was ignored: too short to be an "
                 "absence. Alex's Thursday day off (an Outlook feed) is planned too.")
    demo.at("2026-12-01T00:00", "Maria's vacation starts: routing switches to Jordan")
    demo.narrate("Midnight: routing switched at once; the brief waits for the team's working "
                 "day (8:00–18:00 on weekdays, each person's own time).")
    demo.at("2026-12-01T08:00", "the working day starts: the brief reaches the team")
    steps = {b.button.value: b for b in demo.chat.buttons.values()
             if b.button.action is ActionId.ROUTING_STEP_DONE}
    for pressable in steps.values():
        demo.press(pressable.button.label, ActionId.ROUTING_STEP_DONE, pressable.button.value,
                   JORDAN)
    demo.at("2026-12-01T10:02", "a lead arrives from the website")
    fast = demo.lead("f-8812", "Pat Doe", "Riverside", "Is the 3-bed plan still available?",
                     phone="+15125550100", email="pat@example.com")
    demo.clock.advance(timedelta(minutes=3))
    demo.press("Called", ActionId.LEAD_CALLED, str(fast.id), JORDAN)
    demo.press("Appointment set", ActionId.LEAD_APPOINTMENT, str(fast.id), JORDAN)
    demo.at("2026-12-01T13:30", "another lead arrives; Jordan is with a walk-in")
    slow = demo.lead("f-8813", "Sam Rivera", "Oak Hill", "Do you have quick move-in homes?",
                     phone="+15125550111", email="sam.r@example.com")
    demo.at("2026-12-01T13:36", "six minutes, no contact logged: channel alert")
    demo.at("2026-12-01T13:46", "sixteen minutes: escalation to the manager")
    demo.press("Called", ActionId.LEAD_CALLED, str(slow.id), JORDAN)
    demo.ctx.leads.rate(lead_id=_id(slow), by=JORDAN, rating="warm",
                        notes="Left voicemail, then reached her: wants quick move-ins in spring")
    demo.ctx.leads.add_task(title="Send Sam Rivera the spring quick move-in list",
                            due_at=local("2026-12-07T09:00"), owner=MARIA, by=JORDAN,
                            lead_id=slow.id)
    demo.narrate("Jordan rated the lead warm, added notes, and left Maria a task for Monday.")
    demo.at("2026-12-02T10:00", "Maria's task comes due: Jordan gets a reminder")
    demo.press("Appointment set", ActionId.LEAD_APPOINTMENT, str(demo.chen.id), JORDAN)
    reminder = next(b for b in reversed(demo.chat.buttons.values())
                    if b.button.action is ActionId.REMINDER_DONE)
    demo.press("Done", ActionId.REMINDER_DONE, reminder.button.value, JORDAN)
    demo.at("2026-12-05T00:00", "Maria is back: routing reverts")
    demo.narrate("Saturday is not one of Maria's working days: her return-to-office list "
                 "waits for Monday morning.")
    demo.at("2026-12-07T08:00", "Monday 8:00: Maria's return-to-office list")
    pending = {b.button.value: b.button for b in demo.chat.buttons.values()
               if b.button.action is ActionId.ROUTING_STEP_DONE}
    for value in sorted(pending):
        demo.press(pending[value].label, ActionId.ROUTING_STEP_DONE, value, MARIA)
    contacted = sum(1 for lead in demo.ctx.leads.owned(MARIA)
                    if lead.status is LeadStatus.CONTACTED)
    console.rule("[bold]the end")
    console.print(f"Leads owned by Maria, contacted: {contacted}. Routing journal: "
                  f"{len(demo.ctx.reports.audit_trail())} audited steps. Nothing was left behind.")
