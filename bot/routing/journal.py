"""The routing journal's records: one switch per coverage and channel, its states, and
the snapshot of a channel's routing as stored before and after a switch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.model import (
    RoutingState,
)


class SwitchStatus(StrEnum):
    """Journal states of one routing switch."""

    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"
    MANUAL = "manual"
    REVERTING = "reverting"
    REVERTED = "reverted"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class RoutingSwitch:
    """The journal of one channel's switch for one coverage; unique on (coverage, channel)."""

    id: int | None
    coverage_id: int
    channel: str
    adapter: str
    status: SwitchStatus
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    attempts: int
    last_error: str
    updated_at: datetime
    actor: str
    reason: str
    version: int = 0


def state_to_dict(state: RoutingState) -> dict[str, Any]:
    """A JSON-ready routing snapshot."""
    return {"channel": state.channel, "target": state.target, "details": dict(state.details)}


def state_from_dict(data: Mapping[str, Any]) -> RoutingState:
    """Rebuild a snapshot stored by `state_to_dict`."""
    return RoutingState(str(data["channel"]), str(data["target"]),
                        {str(k): str(v) for k, v in dict(data.get("details", {})).items()})
