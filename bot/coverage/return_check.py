"""Asking an OSC whether they are back when their calendar stops showing the leave.

A calendar change alone never ends an active coverage early: a feed that
glitches to empty would otherwise send leads back to someone still away. The
OSC (and the managers) get this question; the coverage ends at its planned time
unless someone answers "I'm back". Platform-neutral content: every chat adapter
renders it and routes its buttons through `ActionId`.
"""

from __future__ import annotations

from bot.config.model import AppConfig
from bot.messages import ActionId, Actions, Button, Context, Message, Section
from bot.model import Absence, Coverage
from bot.team.names import named
from bot.timefmt import when


def return_question(coverage: Coverage, *, absence: Absence | None, config: AppConfig,
                    reader: str) -> Message:
    """The question for `reader` (the OSC or a manager), in the reader's own zone."""
    assert coverage.id is not None
    zone = config.zone_of(reader)
    osc = named(config, coverage.osc_email)
    backup = named(config, coverage.backup_email)
    is_osc = reader.lower() == coverage.osc_email
    whose, you = ("Your", "you") if is_osc else (f"{osc}'s", osc)
    if absence is None:
        change = f"{whose} calendar no longer shows {'your' if is_osc else 'the'} leave"
    else:
        change = (f"{whose} calendar now shows {'your' if is_osc else 'the'} leave ending "
                  f"{when(absence.end, zone)}")
    question = f"{change} — {'are you' if is_osc else f'is {osc}'} back?"
    planned = when(coverage.end, zone)
    value = str(coverage.id)
    return Message(
        text=question,
        blocks=(
            Section(f"📅 {question}"),
            Context(f"Nothing changes unless someone answers: {backup} keeps covering and "
                    f"everything switches back to {you} at the planned end, {planned}."),
            Actions((
                Button(ActionId.COVERAGE_BACK, "Yes, back now" if not is_osc else
                       "Yes, I'm back", value, "primary"),
                Button(ActionId.COVERAGE_STILL_AWAY, "No, still away", value),
            )),
        ),
    )
