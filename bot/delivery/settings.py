"""Delivery tuning from the environment (see docs/deployment.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class DeliverySettings:
    """Delivery tuning from the environment (see docs/deployment.md)."""

    workers: int = 8
    retry_for: timedelta = timedelta(hours=24)
    interval: timedelta = timedelta(seconds=1)


def delivery_settings(env: Mapping[str, str], *, interval_ms: float = 1000) -> DeliverySettings:
    """OSCBOT_DELIVERY_WORKERS, OSCBOT_RETRY_HOURS and OSCBOT_CHANNEL_INTERVAL_MS, checked."""
    try:
        return DeliverySettings(
            workers=max(1, int(env.get("OSCBOT_DELIVERY_WORKERS", "8"))),
            retry_for=timedelta(hours=float(env.get("OSCBOT_RETRY_HOURS", "24"))),
            interval=timedelta(milliseconds=float(env.get("OSCBOT_CHANNEL_INTERVAL_MS",
                                                          interval_ms))))
    except ValueError as exc:
        raise ConfigError([ConfigProblem(file="environment", line=None, field="delivery",
                                         message=str(exc))]) from None
