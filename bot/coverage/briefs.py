"""Content of lead cards, speed-to-lead alerts, escalations and reminders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.config.model import AppConfig
from bot.messages import (
    ActionId,
    Actions,
    Bullets,
    Button,
    Context,
    Header,
    Message,
    Section,
    outside,
)
from bot.messages import mention as at
from bot.model import (
    Appointment,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
    CreditTo,
    Lead,
    Task,
)
from bot.ports.routing import MoveStatus, RecordKind, RecordMove, RoutingSwitch, SwitchStatus
from bot.routing.crm_handover import crm_name
from bot.routing.engine import UNCONFIRMED
from bot.team.names import named
from bot.timefmt import when, window


def no_backup_alert(
    *, osc_email: str, reasons: Sequence[str], config: AppConfig, zone: str,
    start: datetime,
) -> Message:
    """Tell the managers nobody can cover; never route to nobody silently."""
    managers = " ".join(at(m) for m in config.team.managers)
    osc = named(config, osc_email)
    why = "; ".join(outside(r) for r in reasons) or "no backups are listed"
    return Message(
        text=f"No eligible backup for {osc} from {when(start, zone)}.",
        blocks=(
            Header(f"⚠️ No eligible backup for {osc}"),
            Section(f"{managers} — {osc} is away from {when(start, zone)} and nobody can "
                    f"cover: {why}. Leads stay with {osc} until someone is assigned."),
        ),
        mentions=config.team.managers,
    )


CREDIT_RULE = (
    "Credit: an appointment the backup sets on a *new* lead earns the backup's appointment "
    "bonus; on a lead the OSC already owned it stays with the OSC. Both count in the OSC's "
    "monthly numbers, noted as set by the backup."
)


_MODE_TEXT = {
    CoverageMode.SHORT_TERM: (
        "Short-term: {backup} does the first outreach on new leads. If they connect, set an "
        "appointment; otherwise update the rating, add notes and a task for {osc} on return. "
        "{osc}'s existing leads stay with {osc}."
    ),
    CoverageMode.LONG_TERM: (
        "Long-term: new leads are assigned to {backup} in the CRM and {backup} runs the "
        "follow-up process."
    ),
}


_BACKUP_MODE_TEXT = {
    CoverageMode.SHORT_TERM: (
        "Do the first outreach on new leads. If you connect, set an appointment; otherwise "
        "update the rating, add notes and a task for {osc}'s return. {osc}'s existing leads "
        "stay with {osc}."
    ),
    CoverageMode.LONG_TERM: (
        "New leads are assigned to you in the CRM and you run the follow-up process."
    ),
}


@dataclass(frozen=True)
class BriefFacts:
    """Everything a handoff brief shows, gathered by the coverage service."""

    coverage: Coverage
    switches: Sequence[RoutingSwitch] = ()
    hot_leads: Sequence[Lead] = ()
    uncontacted: Sequence[Lead] = ()
    tasks: Sequence[Task] = ()
    appointments: Sequence[Appointment] = ()
    heads_up: bool = False
    leads_by_id: dict[int, Lead] = field(default_factory=dict)
    moves: Sequence[RecordMove] = ()
    hot_more: int = 0
    uncontacted_more: int = 0
    tasks_more: int = 0


@dataclass(frozen=True)
class ReturnFacts:
    """Everything a return-to-office list shows."""

    coverage: Coverage
    new_leads: Sequence[Lead] = ()
    worked: Sequence[tuple[Lead, str]] = ()
    appointments: Sequence[Appointment] = ()
    tasks_for_osc: Sequence[Task] = ()
    still_uncontacted: Sequence[Lead] = ()
    switches: Sequence[RoutingSwitch] = ()
    leads_by_id: dict[int, Lead] = field(default_factory=dict)
    moves: Sequence[RecordMove] = ()
    new_total: int | None = None
    worked_more: int = 0
    tasks_more: int = 0
    uncontacted_more: int = 0

    @property
    def new_count(self) -> int:
        """Leads that came in while away, shown or not."""
        return len(self.new_leads) if self.new_total is None else self.new_total


_MOVE_WORDS = {
    MoveStatus.PENDING: "being moved to {backup}", MoveStatus.MOVED: "moved to {backup}",
    MoveStatus.RETURNED: "back with {osc}", MoveStatus.KEPT: "kept by {backup}",
    MoveStatus.FINISHED: "finished while covering (left with whoever did it)",
    MoveStatus.CHANGED: "changed by hand meanwhile, left as is",
    MoveStatus.GONE: "deleted in the CRM",
}


def _count(counts: Counter[RecordKind]) -> str:
    parts = []
    for kind in (RecordKind.LEAD, RecordKind.TASK):
        if counts[kind]:
            parts.append(f"{counts[kind]} {kind.value}{'s' if counts[kind] != 1 else ''}")
    return " and ".join(parts)


def crm_lines(moves: Sequence[RecordMove], *, osc: str, backup: str) -> tuple[str, ...]:
    """One line per CRM: how many leads and tasks stand where."""
    lines = []
    for crm in sorted({m.crm for m in moves}):
        parts = []
        for status in MoveStatus:
            counts = Counter(m.kind for m in moves if m.crm == crm and m.status is status)
            if counts:
                parts.append(f"{_count(counts)} "
                             f"{_MOVE_WORDS[status].format(osc=osc, backup=backup)}")
        lines.append(f"📇 {crm_name(crm)}: " + "; ".join(parts))
    return tuple(lines)


def lead_line(lead: Lead, zone: str) -> str:
    """One lead in a list: name, community, how to reach them, when it came in."""
    reach = " · ".join(outside(x) for x in (lead.phone, lead.email) if x)
    where = f" ({outside(lead.community)})" if lead.community else ""
    return f"{outside(lead.name)}{where} — {reach} — in {when(lead.received_at, zone)}"


def switch_line(switch: RoutingSwitch, *, config: AppConfig) -> str:
    """How one routing channel stands, with the manual step when it needs a hand."""
    label = switch.channel.capitalize()
    after = switch.after or {}
    target = named(config, str(after.get("target", "")))
    confirmed = dict(after.get("details") or {}).get("confirmed_by")
    if switch.status is SwitchStatus.APPLIED and confirmed:
        return f"✅ {label} switched by hand (confirmed by {named(config, confirmed)})"
    if switch.status is SwitchStatus.APPLIED:
        by_hand = dict(after.get("details") or {}).get("also_by_hand")
        return f"✅ {label} → {target} ({switch.adapter})" + (
            f" — also by hand: {outside(str(by_hand))}" if by_hand else "")
    if switch.status is SwitchStatus.REVERTED:
        back = named(config, str((switch.before or {}).get("target", "")))
        return f"↩️ {label} back to {back} ({switch.adapter})"
    if switch.status is SwitchStatus.MANUAL:
        return f"✋ {label}: manual step — {outside(switch.last_error) or 'see below'}"
    if switch.status is SwitchStatus.CONFLICT:
        return (f"⚠️ {label}: changed by hand meanwhile; not overwritten — "
                f"{outside(switch.last_error)}")
    if switch.status is SwitchStatus.REVERTING and switch.reason == UNCONFIRMED:
        return (f"❓ {label}: nobody confirmed it was switched — check where it goes now; "
                f"if it was switched: {outside(switch.last_error)}")
    if switch.status is SwitchStatus.REVERTING and switch.last_error:
        return f"✋ {label}: put back by hand — {outside(switch.last_error)}"
    if switch.status is SwitchStatus.FAILED:
        return f"❌ {label}: {outside(switch.last_error)} (retrying)"
    return f"⏳ {label}: {switch.status.value}"


def _manual_buttons(switches: Sequence[RoutingSwitch]) -> tuple[Actions, ...]:
    waiting = [s for s in switches if s.status in (SwitchStatus.MANUAL, SwitchStatus.FAILED)
               or (s.status is SwitchStatus.REVERTING and s.last_error)]
    if not waiting:
        return ()
    return (Actions(tuple(
        Button(ActionId.ROUTING_STEP_DONE,
               f"{s.channel.capitalize()} " + ("checked" if s.reason == UNCONFIRMED
                                               else "done by hand"),
               f"{s.coverage_id}:{s.channel}", "primary")
        for s in waiting
    )),)


def more(lines: Sequence[str], hidden: int) -> tuple[str, ...]:
    """A list's lines, with a last one counting those left out."""
    return (*lines, f"… and {hidden} more") if hidden > 0 else tuple(lines)


def _lead_name(leads: dict[int, Lead], lead_id: int) -> str:
    lead = leads.get(lead_id)
    return outside(lead.name) if lead else f"lead #{lead_id}"


def handoff_brief(facts: BriefFacts, *, config: AppConfig, zone: str) -> Message:
    """The brief posted when coverage starts (or the day before, as a heads-up)."""
    cov = facts.coverage
    osc, backup = named(config, cov.osc_email), named(config, cov.backup_email)
    title = (f"Heads-up: {osc} is out from tomorrow" if facts.heads_up
             else f"{osc} is out — {backup} is covering")
    if cov.backup_email is None:
        title = f"{osc} is out — NO BACKUP is covering"
    if cov.status is CoverageStatus.RETURNED:
        title = f"✅ {osc} is back — {backup} covered"
    elif cov.status is CoverageStatus.CANCELLED:
        title = f"Cancelled: {osc} is not away after all"
    lines = [f"*{osc}* is away ({cov.kind.value.replace('_', ' ')}): "
             f"{window(cov.start, cov.end, zone)}."]
    if cov.backup_email is None:
        managers = " ".join(at(m) for m in config.team.managers)
        lines.append(f"No eligible backup — {managers} please assign someone now.")
    else:
        lines.append(f"Covering: {at(cov.backup_email)}. "
                     + _MODE_TEXT[cov.mode].format(backup=backup, osc=osc))
    if cov.origin is CoverageOrigin.CALENDAR:
        lines.append(f"From {osc}'s calendar: “{outside(cov.notes) or cov.kind.value}”.")
    elif cov.notes:
        lines.append(f"Notes from {named(config, cov.declared_by or cov.osc_email)}: "
                     f"{outside(cov.notes)}")
    why = ("first in the backup list" if not cov.skipped
           else "passed over: " + "; ".join(f"{named(config, s.email)} {s.reason}"
                                            for s in cov.skipped))
    if cov.backup_chosen_by:
        why = f"chosen by {named(config, cov.backup_chosen_by)}"
    blocks: list[Header | Section | Bullets | Actions | Context] = [
        Header(title),
        Section("\n".join(lines), fields=(
            ("Mode", "Long-term" if cov.mode is CoverageMode.LONG_TERM else "Short-term"),
            ("Why this backup", why if cov.backup_email else "—"),
        ) if cov.backup_email else (("Passed over", why),)),
    ]
    if facts.switches:
        routing = tuple(switch_line(s, config=config) for s in facts.switches)
        blocks.append(Bullets("Routing", routing + crm_lines(facts.moves, osc=osc,
                                                                 backup=backup)))
        if cov.status not in (CoverageStatus.RETURNED, CoverageStatus.CANCELLED):
            # After the return the buttons live in the OSC's return list only.
            blocks.extend(_manual_buttons(facts.switches))
    blocks += [
        Bullets("Hot leads", more([lead_line(lead, zone) for lead in facts.hot_leads],
                                  facts.hot_more)),
        Bullets("Not contacted yet", more([lead_line(lead, zone) for lead in facts.uncontacted],
                                          facts.uncontacted_more)),
        Bullets("Tasks due while away (moved to the backup)",
                more([f"{when(t.due_at, zone)} — {outside(t.title)}" for t in facts.tasks],
                     facts.tasks_more)),
        Bullets("Appointments while away",
                tuple(f"{when(a.at, zone)} — {_lead_name(facts.leads_by_id, a.lead_id)}"
                      for a in facts.appointments)),
        Context(CREDIT_RULE),
    ]
    mentions = tuple(e for e in (cov.backup_email, *config.team.managers) if e)
    fallback = f"{title}. {window(cov.start, cov.end, zone)}."
    return Message(text=fallback, blocks=tuple(blocks), mentions=mentions)


def return_list(facts: ReturnFacts, *, config: AppConfig, zone: str) -> Message:
    """The return-to-office task list, sent to the OSC by DM; empty sections are left out."""
    cov = facts.coverage
    osc, backup = named(config, cov.osc_email), named(config, cov.backup_email)
    leads = facts.leads_by_id

    def appointment_line(a: Appointment) -> str:
        who = _lead_name(leads, a.lead_id)
        credit = (f"{named(config, a.bonus_email)} earns the bonus"
                  if a.credit_to is CreditTo.BACKUP else f"credit stays with {osc}")
        return f"{when(a.at, zone)} — {who}, set by {named(config, a.set_by)}; {credit}"

    unreverted = [s for s in facts.switches if s.status is not SwitchStatus.REVERTED]
    routing = (("✅ Every route is back to you.",) if facts.switches and not unreverted
               else tuple(switch_line(s, config=config) for s in facts.switches))
    routing += crm_lines(facts.moves, osc=osc, backup=backup)
    sections = [
        Bullets("New leads to start on your follow-up process",
                more([lead_line(lead, zone) for lead in facts.new_leads],
                     facts.new_count - len(facts.new_leads))),
        Bullets("Leads the backup worked",
                more([f"{outside(lead.name)}: {outside(notes)}" for lead, notes in facts.worked],
                     facts.worked_more)),
        Bullets("Appointments set", tuple(appointment_line(a) for a in facts.appointments)),
        Bullets("Tasks left for you",
                more([f"{when(t.due_at, zone)} — {outside(t.title)}" for t in facts.tasks_for_osc],
                     facts.tasks_more)),
        Bullets("Still not contacted — call these first",
                more([lead_line(lead, zone) for lead in facts.still_uncontacted],
                     facts.uncontacted_more)),
    ]
    shown = tuple(b for b in sections if b.items) or (
        Section("Nothing waiting for you: no new leads, appointments, tasks or uncontacted "
                "leads."),)
    blocks: tuple[Header | Section | Bullets | Actions | Context, ...] = (
        Header(f"Welcome back, {osc}"),
        Section(f"{backup} covered {window(cov.start, cov.end, zone)}. Here is what to pick up."),
        *shown,
        *((Bullets("Routing", routing),) if routing else ()),
        *_manual_buttons(unreverted),
        *((Context(CREDIT_RULE),) if facts.appointments else ()),
    )
    return Message(text=_return_summary(facts, osc), blocks=blocks, mentions=(cov.osc_email,))


def _return_summary(facts: ReturnFacts, osc: str) -> str:
    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    return (f"Welcome back, {osc}: {count(facts.new_count, 'new lead')}, "
            f"{count(len(facts.appointments), 'appointment')}, "
            f"{count(len(facts.tasks_for_osc) + facts.tasks_more, 'task')}.")


def return_note(facts: ReturnFacts, *, config: AppConfig, zone: str) -> Message:
    """The short channel note on the OSC's return; the list itself goes to the OSC."""
    cov = facts.coverage
    osc, backup = named(config, cov.osc_email), named(config, cov.backup_email)
    waiting = [s.channel for s in facts.switches
               if s.status in (SwitchStatus.REVERTING, SwitchStatus.FAILED,
                               SwitchStatus.MANUAL, SwitchStatus.CONFLICT)]
    text = (f"✅ {osc} is back — {backup} covered {window(cov.start, cov.end, zone)}. "
            f"{_return_summary(facts, osc).split(': ', 1)[1]} The return-to-office list "
            f"went to {osc} by DM.")
    if waiting:
        text += f" Still to do by hand: {', '.join(waiting)}."
    return Message(text=text, blocks=(Section(text),))


def backup_note(facts: BriefFacts, *, config: AppConfig, zone: str) -> Message:
    """The DM the backup gets when coverage starts: what is theirs until the OSC is back."""
    cov = facts.coverage
    osc = named(config, cov.osc_email)
    text = f"You are covering for {osc}: {window(cov.start, cov.end, zone)}."
    return Message(text=text, blocks=(
        Header(f"You're covering for {osc}"),
        Section(f"{text} {_BACKUP_MODE_TEXT[cov.mode].format(osc=osc)} New leads reach you "
                f"here by DM; the brief is in {config.team.channel}."),
        Bullets(f"{osc}'s tasks now on your list",
                more([f"{when(t.due_at, zone)} — {outside(t.title)}" for t in facts.tasks],
                     facts.tasks_more)),
        Bullets("Waiting on a contact", more([lead_line(lead, zone)
                                              for lead in facts.uncontacted],
                                             facts.uncontacted_more)),
    ), mentions=(cov.backup_email,) if cov.backup_email else ())
