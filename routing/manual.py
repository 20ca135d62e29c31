"""The manual adapter: for systems oscbot cannot switch, a person does the step and
confirms it with a button; the confirmation is recorded in the journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.config.model import PersonConfig
from bot.errors import ManualStepRequired
from bot.model import CoverageMode, RoutingState

if TYPE_CHECKING:
    from routing.setup import RoutingSetup

_DEFAULT_STEPS = {
    "leads": "Reassign {osc}'s new leads to {backup} in the CRM",
    "email": ("Add {backup} ({backup_email}) to the lead email group or shared inbox that "
              "{osc} answers (no autoresponder)"),
    "calls": "Forward {osc}'s tracking numbers ({osc_phone}) to {backup} ({backup_phone})",
}
_DEFAULT_RESTORE = {
    "leads": "Assign new leads to {osc} again in the CRM",
    "email": "Remove the backup from {osc}'s lead email group or shared inbox",
    "calls": "Point {osc}'s tracking numbers back to {osc} ({osc_phone})",
}


class ManualRouting:
    """Asks for a confirmed manual step instead of switching anything itself."""

    name = "manual"

    def __init__(self, *, channel: str, settings: Mapping[str, str] | None = None) -> None:
        self._channel = channel
        self._settings = dict(settings or {})

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """oscbot cannot see the real state; it assumes the OSC receives their traffic."""
        return RoutingState(self._channel, osc.email, {"manual": "true"})

    def switch(
        self, *, osc: PersonConfig, backup: PersonConfig, mode: CoverageMode
    ) -> RoutingState:
        """Raise the step a person must take; confirmed later with a button."""
        template = self._settings.get("switch_step", _DEFAULT_STEPS.get(self._channel, ""))
        raise ManualStepRequired(
            "manual step needed", manual_step=self._fill(template, osc, backup)
        )

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Raise the step that puts routing back."""
        template = self._settings.get("restore_step", _DEFAULT_RESTORE.get(self._channel, ""))
        raise ManualStepRequired(
            "manual step needed", manual_step=self._fill(template, osc, osc)
        )

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """A drill can only say that a person must do this step."""
        template = self._settings.get("switch_step", _DEFAULT_STEPS.get(self._channel, ""))
        return [f"manual: {self._fill(template, osc, backup)}"]

    @staticmethod
    def _fill(template: str, osc: PersonConfig, backup: PersonConfig) -> str:
        return template.format(
            osc=osc.name, backup=backup.name, backup_email=backup.email,
            osc_phone=osc.phone or "no phone on file",
            backup_phone=backup.phone or "no phone on file",
        )


def build(setup: RoutingSetup) -> ManualRouting:
    """A step a person does and confirms, described by the channel's settings."""
    return ManualRouting(channel=setup.channel, settings=setup.settings)
