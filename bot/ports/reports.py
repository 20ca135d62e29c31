"""Report ports: drawing a chart to share in the team channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ChartRenderer(Protocol):
    """Draws report charts as images."""

    def bar_chart(self, bars: Sequence[tuple[str, float]], *, title: str, axis: str,
                  top: float) -> bytes:
        """A PNG bar chart: one bar per (label, value), the value axis named `axis` and
        running from 0 to `top`."""
        ...
