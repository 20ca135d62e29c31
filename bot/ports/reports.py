"""Report ports: drawing the weekly digest's chart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.config.model import AppConfig
from bot.reports.numbers import ReportRow


class ChartRenderer(Protocol):
    """Draws report charts as images to share in the team channel."""

    def digest_chart(self, rows: Sequence[ReportRow], *, config: AppConfig,
                     period: str) -> bytes:
        """A PNG bar chart of the share of leads contacted in time, per person and segment."""
        ...
