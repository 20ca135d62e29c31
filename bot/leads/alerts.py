"""Content of lead cards, speed-to-lead alerts, escalations and reminders."""

from __future__ import annotations

from datetime import datetime

from bot.config.model import AppConfig
from bot.durations import humanize
from bot.leads.screening import non_lead_hint
from bot.messages import (
    ActionId,
    Actions,
    Button,
    Context,
    Header,
    Message,
    Section,
    cut,
    outside,
)
from bot.messages import mention as at
from bot.model import Lead, Task
from bot.team.names import named
from bot.timefmt import when

# Channel posts quote a lead's message up to this many characters; the DM shows it all.
CHANNEL_MESSAGE_LIMIT = 500


def _contact_buttons(lead_id: int) -> Actions:
    value = str(lead_id)
    return Actions((
        Button(ActionId.LEAD_CALLED, "Called", value, "primary"),
        Button(ActionId.LEAD_EMAILED, "Emailed", value),
        Button(ActionId.LEAD_TEXTED, "Texted", value),
        Button(ActionId.LEAD_APPOINTMENT, "Appointment set", value),
        Button(ActionId.LEAD_NOT_A_LEAD, "Not a lead", value, "danger"),
    ))


def _lead_section(lead: Lead, zone: str, *, limit: int | None = None) -> Section:
    """The lead's name, message and contact fields; `limit` cuts a long message (channel
    posts stay short; the DM keeps it whole)."""
    fields: list[tuple[str, str]] = [("Received", when(lead.received_at, zone))]
    if lead.phone:
        fields.append(("Phone", outside(lead.phone)))
    if lead.email:
        fields.append(("Email", outside(lead.email)))
    if lead.community:
        fields.append(("Community", outside(lead.community)))
    text = cut(lead.message, limit) if limit and lead.message else lead.message
    # One quoted paragraph: a message with line breaks stays inside the quote.
    message = f"\n> {outside(text.replace(chr(10), ' '))}" if text else ""
    return Section(f"*{outside(lead.name)}* via {outside(lead.source)}{message}",
                   fields=tuple(fields))


def lead_card(lead: Lead, *, config: AppConfig, zone: str, covering_for: str | None) -> Message:
    """The DM a responsible person gets the moment a lead arrives."""
    assert lead.id is not None
    window = humanize(config.policies.speed_to_lead)
    note = (f"You are covering for {named(config, covering_for)}: do the first outreach."
            if covering_for else "")
    hint = non_lead_hint(lead.message)
    if hint:
        note = (note + " " if note else "") + (
            f"This looks like a {hint}, not a buyer: if so, press “Not a lead”.")
    return Message(
        text=f"New lead: {outside(lead.name)} — contact within {window}.",
        blocks=(
            Header(f"New lead — contact within {window}"),
            _lead_section(lead, zone),
            *((Context(note),) if note else ()),
            _contact_buttons(lead.id),
        ),
    )


def handled(lead: Lead, *, status: str, zone: str, channel: bool) -> Message:
    """A lead card or alert edited once someone acted on it: the outcome, no buttons."""
    what = "Lead alert" if channel else "New lead"
    return Message(
        text=f"{what}: {outside(lead.name)} — {status}.",
        blocks=(Header(status), _lead_section(lead, zone, limit=CHANNEL_MESSAGE_LIMIT
                                              if channel else None)))


def uncontacted_alert(lead: Lead, *, config: AppConfig, zone: str, now: datetime) -> Message:
    """The channel alert when nobody logged a contact inside the speed-to-lead window."""
    assert lead.id is not None
    waited = humanize(now - lead.received_at)
    who = at(lead.assigned_to)
    return Message(
        text=f"Lead waiting {waited} with no contact — {named(config, lead.assigned_to)}.",
        blocks=(
            Header(f"⏰ Lead waiting {waited} with no contact"),
            Section(f"{who}, this lead has not been contacted yet.", ()),
            _lead_section(lead, zone, limit=CHANNEL_MESSAGE_LIMIT),
            Actions((
                Button(ActionId.LEAD_CALLED, "Called", str(lead.id), "primary"),
                Button(ActionId.LEAD_CLAIM, "I'll take it", str(lead.id)),
                Button(ActionId.LEAD_NOT_A_LEAD, "Not a lead", str(lead.id), "danger"),
            )),
        ),
        mentions=(lead.assigned_to,),
    )


def escalation(lead: Lead, *, config: AppConfig, zone: str, now: datetime) -> Message:
    """The manager escalation after `escalate_after` with still no contact."""
    assert lead.id is not None
    waited = humanize(now - lead.received_at)
    managers = " ".join(at(m) for m in config.team.managers)
    return Message(
        text=f"Escalation: lead uncontacted for {waited} "
             f"(assigned to {named(config, lead.assigned_to)}).",
        blocks=(
            Header(f"🚨 Escalation: no contact after {waited}"),
            Section(f"{managers} — assigned to {at(lead.assigned_to)}, still no contact logged."),
            _lead_section(lead, zone, limit=CHANNEL_MESSAGE_LIMIT),
            Actions((Button(ActionId.LEAD_CLAIM, "I'll take it", str(lead.id), "primary"),)),
        ),
        mentions=(*config.team.managers, lead.assigned_to),
    )


def reminder(task: Task, *, lead: Lead | None, config: AppConfig, zone: str) -> Message:
    """A DM reminding the assignee of a task that is due."""
    assert task.id is not None
    on_behalf = (f" (for {named(config, task.owner_email)})"
                 if task.owner_email != task.assignee_email else "")
    about = f" — {outside(lead.name)}, {outside(lead.phone or lead.email)}" if lead else ""
    title = outside(task.title)
    return Message(
        text=f"Reminder: {title}{about}, due {when(task.due_at, zone)}.",
        blocks=(
            Section(f"📌 *{title}*{on_behalf}{about}\nDue {when(task.due_at, zone)}"),
            Actions((
                Button(ActionId.REMINDER_DONE, "Done", str(task.id), "primary"),
                Button(ActionId.REMINDER_SNOOZE, "Snooze 1h", str(task.id)),
            )),
        ),
    )


def protection_warning(lead: Lead, *, deadline: datetime, config: AppConfig,
                       zone: str) -> Message:
    """DM to the owner the day before credit protection on a lead lapses."""
    assert lead.id is not None
    return Message(
        text=f"Credit protection on {outside(lead.name)} lapses {when(deadline, zone)}.",
        blocks=(Section(
            f"🛡️ *{outside(lead.name)}*: your credit protection lapses {when(deadline, zone)} "
            f"unless there is two-way contact (a reply or a connected call) before then. "
            f"Reach them: {outside(lead.phone or lead.email)}."),
            Actions((Button(ActionId.LEAD_CALLED, "Called", str(lead.id), "primary"),))))


def protection_lapsed(lead: Lead, *, config: AppConfig) -> Message:
    """DM to the owner when protection on a lead has lapsed (recorded for reports)."""
    window = humanize(config.policies.coverage_protection)
    return Message(text=f"Credit protection on {outside(lead.name)} lapsed: no two-way contact in "
                        f"{window}.")
