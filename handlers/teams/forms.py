"""The leave form as a Teams dialog (task module): an Adaptive Card form, its inline
validation, and the wire shapes of dialog and universal-action answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config.model import AppConfig
from bot.messages import plain as strip_marks
from bot.model import AbsenceKind
from bot.team.names import name_of
from handlers.teams.cards import CARD_CONTENT_TYPE, card, inert

LEAVE_DIALOG = "leave"
KIND_LABELS = {
    AbsenceKind.VACATION: "Vacation", AbsenceKind.DAY_OFF: "Day off",
    AbsenceKind.SICK: "Sick", AbsenceKind.LEAVE: "Leave (maternity, paternity, other)",
    AbsenceKind.HOLIDAY: "Holiday", AbsenceKind.OUT_OF_OFFICE: "Out of office",
}
FIRST_AVAILABLE = "first-available"


@dataclass(frozen=True)
class LeaveForm:
    """A submitted leave form, checked."""

    osc: str
    start: datetime
    end: datetime
    kind: AbsenceKind
    backup: str | None
    notes: str
    emergency: bool


def osc_for(config: AppConfig, actor: str) -> str:
    """Whose leave the form opens on: an OSC's own, else (a manager) the first OSC's."""
    person = config.person(actor)
    return actor if person.role.value == "osc" else config.oscs[0].email


def open_button(osc: str) -> dict[str, Any]:
    """A card with the button that opens the leave dialog (a message cannot open one)."""
    return card([{"type": "TextBlock", "wrap": True,
                  "text": "Plan an absence: dates, kind and who covers."}],
                actions=[{"type": "Action.Submit", "title": "Open the leave form",
                          "data": {"msteams": {"type": "task/fetch"},
                                   "dialog": LEAVE_DIALOG, "osc": osc}}])


def _field(label: str, element: dict[str, Any], error: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [{**element, "label": label}]
    if error:
        items.append({"type": "TextBlock", "text": inert(error), "color": "Attention",
                      "wrap": True, "size": "Small", "id": f"{element['id']}-error"})
    return items


def leave_card(*, config: AppConfig, actor: str, osc: str, today: date,
               eligible: dict[str, list[str]], values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None) -> dict[str, Any]:
    """The form: managers choose the OSC; backups are only the eligible ones for that OSC."""
    values = values or {}
    errors = errors or {}
    body: list[dict[str, Any]] = []
    if errors:
        body.append({"type": "TextBlock", "wrap": True, "color": "Attention",
                     "weight": "Bolder", "text": "Please fix the fields marked below."})
    if config.is_manager(actor):
        body += _field("Who is away", {
            "type": "Input.ChoiceSet", "id": "osc", "value": values.get("osc", osc),
            "isRequired": True, "errorMessage": "Choose who is away",
            "choices": [{"title": p.name, "value": p.email} for p in config.oscs]},
            errors.get("osc"))
    backups = [{"title": "First available in the plan", "value": FIRST_AVAILABLE}]
    for person in config.oscs:
        if person.email == osc or config.is_manager(actor):
            backups += [{"title": f"{name_of(config, b)} (for {person.name})"
                         if config.is_manager(actor) else name_of(config, b), "value": b}
                        for b in eligible.get(person.email, [])]
    body += _field("First day away", {"type": "Input.Date", "id": "start", "isRequired": True,
                                      "errorMessage": "Pick the first day you are away",
                                      "value": values.get("start", today.isoformat())},
                   errors.get("start"))
    body += _field("Last day away", {"type": "Input.Date", "id": "end", "isRequired": True,
                                     "errorMessage": "Pick your last day away",
                                     "value": values.get("end", today.isoformat())},
                   errors.get("end"))
    body += _field("Kind", {"type": "Input.ChoiceSet", "id": "kind",
                            "value": values.get("kind", AbsenceKind.VACATION.value),
                            "choices": [{"title": label, "value": kind.value}
                                        for kind, label in KIND_LABELS.items()]},
                   errors.get("kind"))
    body += _field("Backup", {"type": "Input.ChoiceSet", "id": "backup",
                              "value": values.get("backup", FIRST_AVAILABLE),
                              "choices": backups}, errors.get("backup"))
    body += _field("Notes for your backup", {"type": "Input.Text", "id": "notes",
                                             "isMultiline": True, "maxLength": 2000,
                                             "value": values.get("notes", "")},
                   errors.get("notes"))
    body.append({"type": "Input.Toggle", "id": "emergency", "title":
                 "Starting now (switch everything immediately)", "valueOn": "now",
                 "valueOff": "", "value": values.get("emergency", "")})
    return card(body, actions=[{"type": "Action.Submit", "title": "Plan coverage",
                                "data": {"dialog": LEAVE_DIALOG, "osc": osc}}])


def read_leave(values: dict[str, Any], *, actor: str, config: AppConfig,
               now: datetime) -> tuple[LeaveForm | None, dict[str, str]]:
    """The submitted values as a LeaveForm, or the error for each bad field."""
    errors: dict[str, str] = {}
    osc = str(values.get("osc") or actor).lower()
    if osc != actor.lower() and not config.is_manager(actor):
        errors["osc"] = "Only a manager can file leave for someone else."
    zone = ZoneInfo(config.zone_of(osc))
    days: dict[str, date] = {}
    for key, missing in (("start", "Pick the first day you are away."),
                         ("end", "Pick your last day away.")):
        try:
            days[key] = date.fromisoformat(str(values.get(key) or ""))
        except ValueError:
            errors[key] = missing
    if "start" in days and "end" in days and days["end"] < days["start"]:
        errors["end"] = "The last day is before the first day."
    try:
        kind = AbsenceKind(str(values.get("kind") or AbsenceKind.VACATION.value))
    except ValueError:
        errors["kind"] = "Choose a kind from the list."
        kind = AbsenceKind.VACATION
    notes = str(values.get("notes") or "")
    if len(notes) > 2000:
        errors["notes"] = "Keep the notes under 2000 characters."
    if errors:
        return None, errors
    emergency = str(values.get("emergency") or "") == "now"
    start = now if emergency else datetime.combine(days["start"], time(0), tzinfo=zone)
    end = datetime.combine(days["end"], time(0), tzinfo=zone) + timedelta(days=1)
    if end <= start:
        return None, {"end": "The absence would already be over."}
    backup = str(values.get("backup") or FIRST_AVAILABLE)
    return LeaveForm(osc, start, end, kind, None if backup == FIRST_AVAILABLE else backup,
                     notes, emergency), {}


def dialog(title: str, content: dict[str, Any]) -> dict[str, Any]:
    """A task module answer that shows (or re-shows) a card in the dialog."""
    return {"task": {"type": "continue", "value": {
        "title": title, "width": "medium", "height": "large",
        "card": {"contentType": CARD_CONTENT_TYPE, "content": content}}}}


def dialog_message(text: str) -> dict[str, Any]:
    """A task module answer that closes the form with a short message."""
    return {"task": {"type": "message", "value": strip_marks(text)[:500]}}


def refreshed(content: dict[str, Any]) -> dict[str, Any]:
    """A universal-action answer: replace the card the button was on."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": content}


def notice(text: str) -> dict[str, Any]:
    """A universal-action answer: leave the card as it is and tell the presser why."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
            "value": strip_marks(text)[:500]}
