"""Slack modals and the App Home, built apart from the listeners."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.config.model import AppConfig
from bot.coverage.briefs import more
from bot.messages import outside, plain
from bot.model import AbsenceKind, Coverage, CoverageStatus, Lead, Task
from bot.ports.records import Page
from bot.team.names import named
from bot.timefmt import when, window
from handlers.commands import LeaveDraft
from handlers.slack.blocks import clip, mrkdwn

LEAVE_CALLBACK = "going_on_leave"
# Leads and tasks listed on the App Home; the rest is counted.
HOME_ROWS = 20
KIND_LABELS = {
    AbsenceKind.VACATION: "Vacation", AbsenceKind.DAY_OFF: "Day off",
    AbsenceKind.SICK: "Sick", AbsenceKind.LEAVE: "Leave (maternity, paternity, other)",
    AbsenceKind.HOLIDAY: "Holiday", AbsenceKind.OUT_OF_OFFICE: "Out of office",
}


def _text(value: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(plain(value), limit)}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _text(label), "value": value}


def leave_modal(*, config: AppConfig, actor: str, osc: str, today: date,
                eligibility: dict[str, str | None],
                draft: LeaveDraft | None = None) -> dict[str, Any]:
    """The `/going-on-leave` form for `osc`, pre-filled from `draft` (what was typed);
    the backups listed are that OSC's, each saying whether they can cover right now."""
    draft = draft or LeaveDraft()
    person = config.person(osc)
    backups = [_option(named(config, b) + (f" — {why}" if why else " — available"), b)
               for b, why in eligibility.items()]
    backup_select: dict[str, Any] = {
        "type": "static_select", "action_id": "value",
        "options": backups or [_option("No backups configured", "none")]}
    picked = [o for o in backups if o["value"] == draft.backup_email]
    if picked:
        backup_select["initial_option"] = picked[0]
    kind = draft.kind or AbsenceKind.VACATION
    notes: dict[str, Any] = {"type": "plain_text_input", "action_id": "value",
                             "multiline": True, "max_length": 2000}
    if draft.notes:
        notes["initial_value"] = draft.notes[:2000]
    blocks: list[dict[str, Any]] = []
    if config.is_manager(actor):
        oscs = [_option(p.name, p.email) for p in config.oscs]
        # dispatch_action: picking someone else redraws the form with their backups.
        blocks.append({"type": "input", "block_id": "osc", "label": _text("Who is away"),
                       "dispatch_action": True,
                       "element": {"type": "static_select", "action_id": "value",
                                   "options": oscs,
                                   "initial_option": _option(person.name, person.email)}})
    first = draft.first or today
    blocks += [
        {"type": "input", "block_id": "start", "label": _text("First day away"),
         "element": {"type": "datepicker", "action_id": "value",
                     "initial_date": first.isoformat()}},
        {"type": "input", "block_id": "end", "label": _text("Last day away"),
         "element": {"type": "datepicker", "action_id": "value",
                     "initial_date": (draft.last or first).isoformat()}},
        {"type": "input", "block_id": "kind", "label": _text("Kind"),
         "element": {"type": "static_select", "action_id": "value",
                     "options": [_option(label, k.value) for k, label in KIND_LABELS.items()],
                     "initial_option": _option(KIND_LABELS[kind], kind.value)}},
        {"type": "input", "block_id": "backup", "optional": True,
         "label": _text(f"Backup for {person.name} (default: first available)"),
         "element": backup_select},
        {"type": "input", "block_id": "notes", "optional": True,
         "label": _text("Notes for your backup"), "element": notes},
        {"type": "input", "block_id": "emergency", "optional": True,
         "label": _text("Emergency"),
         "element": {"type": "checkboxes", "action_id": "value", "options": [
             _option("Starting now (switch everything immediately)", "now")]}},
    ]
    return {"type": "modal", "callback_id": LEAVE_CALLBACK, "private_metadata": osc,
            "title": _text("Going on leave"), "submit": _text("Plan coverage"),
            "close": _text("Cancel"), "blocks": blocks}


def submitted_values(view: dict[str, Any]) -> dict[str, str | None]:
    """The values of a submitted leave modal, by block id."""
    values: dict[str, str | None] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        element = actions.get("value", {})
        if "selected_date" in element:
            values[block_id] = element["selected_date"]
        elif "selected_option" in element:
            option = element["selected_option"]
            values[block_id] = option["value"] if option else None
        elif "selected_options" in element:
            values[block_id] = ",".join(o["value"] for o in element["selected_options"] or ())
        else:
            values[block_id] = element.get("value")
    return values


def home_view(*, config: AppConfig, email: str, now: datetime, coverages: list[Coverage],
              leads: Page[Lead], tasks: Page[Task]) -> dict[str, Any]:
    """The App Home: your status, your leads and tasks, and the team's coverage calendar."""
    zone = config.zone_of(email)
    mine = [c for c in coverages if c.status is CoverageStatus.ACTIVE and c.covers(now)]
    status = "Normal — you're in."
    for c in mine:
        if c.osc_email == email:
            status = f"You're out; {named(config, c.backup_email)} is covering until " \
                     f"{when(c.end, zone)}."
        elif c.backup_email == email:
            status = f"You're covering for {named(config, c.osc_email)} until " \
                     f"{when(c.end, zone)}."
    team = [f"• {named(config, c.osc_email)}: {window(c.start, c.end, zone)} — "
            f"{named(config, c.backup_email)}" for c in coverages]
    lead_lines = [f"• {line}" for line in more(
        [f"{outside(lead.name)} ({lead.status.value}) — in {when(lead.received_at, zone)}"
         for lead in leads.items], leads.more)]
    task_lines = [f"• {line}" for line in more(
        [f"{when(t.due_at, zone)} — {outside(t.title)}" for t in tasks.items], tasks.more)]

    def section(title: str, lines: list[str], empty: str) -> dict[str, Any]:
        body = "\n".join(lines) if lines else empty
        text = mrkdwn(f"*{title}*\n{body}", lambda _: None, lambda email: email)
        return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}}

    title = "Team coverage" if config.is_manager(email) else "Coverage calendar"
    return {"type": "home", "blocks": [
        {"type": "header", "text": _text("oscbot")},
        section("Your status", [status], ""),
        section("Your leads", lead_lines, "No open leads."),
        section("Your tasks", task_lines, "Nothing due."),
        {"type": "divider"},
        section(title, team, "Nobody is out or planned to be."),
    ]}
