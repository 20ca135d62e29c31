"""Button presses, the same for every chat platform: action id + value -> one service call.

Returns the words to show the person who pressed; errors become words in one place.
"""

from __future__ import annotations

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError, RoutingError
from bot.messages import ActionId
from bot.model import ActivityKind
from bot.team.names import name_of
from bot.timefmt import when

_CONTACTS = {
    ActionId.LEAD_CALLED: ActivityKind.CALL,
    ActionId.LEAD_EMAILED: ActivityKind.EMAIL,
    ActionId.LEAD_TEXTED: ActivityKind.TEXT,
}


def press(ctx: AppContext, *, action: ActionId, value: str, actor: str) -> str:
    """Carry out a button press by `actor` (an email); returns a reply for them."""
    return attempt(ctx, action=action, value=value, actor=actor)[1]


def attempt(ctx: AppContext, *, action: ActionId, value: str, actor: str) -> tuple[bool, str]:
    """Like `press`, also saying whether it was done (a refused press leaves the card open)."""
    try:
        return True, _press(ctx, action=action, value=value, actor=actor.lower())
    except (NotAllowed, NotFound, InvalidInput, RoutingError) as exc:
        return False, f"Sorry — {exc}"
    except OscbotError as exc:
        return False, f"That did not work: {exc}"


def _press(ctx: AppContext, *, action: ActionId, value: str, actor: str) -> str:
    if action in _CONTACTS:
        lead_id = _id(value)
        ctx.leads.press(lead_id=lead_id, kind=_CONTACTS[action], by=actor)
        return f"Logged: {action.value.removeprefix('lead_')} lead #{lead_id}. Timer stopped."
    if action is ActionId.LEAD_APPOINTMENT:
        lead_id = _id(value)
        appointment = ctx.leads.set_appointment(lead_id=lead_id, by=actor, at=ctx.clock.now())
        return f"Appointment recorded on lead #{lead_id}. {appointment.note}".strip()
    if action is ActionId.LEAD_NOT_A_LEAD:
        ctx.leads.mark_not_a_lead(lead_id=_id(value), by=actor)
        return "Marked as not a lead; no more alerts for it."
    if action is ActionId.LEAD_CLAIM:
        ctx.leads.claim(lead_id=_id(value), by=actor)
        return "It's yours now — contact them right away."
    if action is ActionId.REMINDER_DONE:
        ctx.leads.complete_task(task_id=_id(value), by=actor)
        return "Done. Nice work."
    if action is ActionId.REMINDER_SNOOZE:
        task = ctx.leads.snooze_task(task_id=_id(value), by=actor)
        return f"Snoozed until {task.due_at:%H:%M} UTC."
    if action in (ActionId.COVERAGE_BACK, ActionId.COVERAGE_STILL_AWAY):
        back = action is ActionId.COVERAGE_BACK
        coverage = ctx.coverage.answer_return(coverage_id=_id(value), actor=actor, back=back)
        osc = name_of(ctx.config, coverage.osc_email)
        return (f"Coverage ended: everything switches back to {osc} now." if back else
                "Got it: coverage continues until "
                f"{when(coverage.end, ctx.config.zone_of(actor))}.")
    coverage_id, _, channel = value.partition(":")
    ctx.coverage.confirm_step(coverage_id=_id(coverage_id), channel=channel, actor=actor)
    return f"Thanks — {channel} confirmed and recorded."


def _id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not an id") from None
