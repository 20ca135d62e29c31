"""The managers' alert when a calendar keeps failing to load."""

from __future__ import annotations

from bot.config.model import AppConfig
from bot.messages import (
    Message,
    Section,
    outside,
)
from bot.team.names import named


def calendar_stale_alert(*, osc_email: str, failures: int, error: str,
                         config: AppConfig) -> Message:
    """Tell the managers a calendar keeps failing; coverage is left as it was."""
    osc = named(config, osc_email)
    return Message(
        text=f"{osc}'s calendar failed to load {failures} times in a row.",
        blocks=(Section(
            f"⚠️ {osc}'s calendar failed to load {failures} times in a row ({outside(error)}). "
            "Coverage is unchanged, using the last good copy."),),
        mentions=config.team.managers,
    )
