"""A chart renderer that draws a placeholder and remembers what it was asked for."""

from __future__ import annotations

from collections.abc import Sequence

from bot.config.model import AppConfig
from bot.reports.numbers import ReportRow

# The smallest valid PNG: one transparent pixel.
ONE_PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b4944"
    "4154789c6360000200000500017a5eab3f0000000049454e44ae426082")


class RecordingCharts:
    """ChartRenderer that returns a one-pixel PNG and records each request."""

    def __init__(self) -> None:
        self.drawn: list[tuple[str, int]] = []

    def digest_chart(self, rows: Sequence[ReportRow], *, config: AppConfig,
                     period: str) -> bytes:
        """Record (period, number of rows) and return the placeholder image."""
        self.drawn.append((period, len(rows)))
        return ONE_PIXEL_PNG
