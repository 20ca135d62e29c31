"""A chart renderer that draws a placeholder and remembers what it was asked for."""

from __future__ import annotations

from collections.abc import Sequence

# The smallest valid PNG: one transparent pixel.
ONE_PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b4944"
    "4154789c6360000200000500017a5eab3f0000000049454e44ae426082")


class RecordingCharts:
    """ChartRenderer that returns a one-pixel PNG and records each chart's title and bars."""

    def __init__(self) -> None:
        self.drawn: list[tuple[str, tuple[tuple[str, float], ...]]] = []

    def bar_chart(self, bars: Sequence[tuple[str, float]], *, title: str, axis: str,
                  top: float) -> bytes:
        """Record the chart and return the placeholder image."""
        if any(not 0 <= value <= top for _, value in bars):
            raise ValueError(f"a bar of {title!r} is outside 0..{top}")
        self.drawn.append((title, tuple(bars)))
        return ONE_PIXEL_PNG
