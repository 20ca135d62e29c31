"""Rendering reports: the `oscbot report` table and CSV, and charts drawn with matplotlib."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from rich import box
from rich.table import Table

from bot.config.model import AppConfig
from bot.reports.digest import window_label
from bot.reports.numbers import COVERAGE, ReportRow
from bot.team.names import name_of

COLUMNS = ("person", "segment", "leads", "contacted", "median_minutes", "p90_minutes",
           "within_window", "appointments", "backup_bonus_appointments", "lapses",
           "credited_appointments", "credited_set_by_backup")


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def report_csv(rows: Sequence[ReportRow]) -> str:
    """The report as CSV with a header row (times in minutes, share as 0..1)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([r.person, r.segment, r.leads, r.contacted, _num(r.median_minutes),
                         _num(r.p90_minutes), _num(r.within_window, 3), r.appointments,
                         r.backup_bonus_appointments, r.lapses, r.credited,
                         r.credited_set_by_backup])
    return out.getvalue()


def report_table(rows: Sequence[ReportRow], *, config: AppConfig, title: str) -> Table:
    """The report as a terminal table with people's names, fitting 80 columns."""
    window = window_label(config).replace(" min", "m")
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False,
                  collapse_padding=True, caption_justify="left", caption=(
                      f"Minutes to first contact (median, p90); in {window}: share contacted "
                      "within the speed-to-lead window; counted: appointments in the "
                      "person's monthly numbers, (+N) of them set by the backup covering."))
    for heading in ("person", "leads", "cont.", "median", "p90", f"in {window}", "set",
                    "counted", "bonus", "lapses"):
        table.add_column(heading, justify="left" if heading == "person" else "right",
                         no_wrap=heading != "person", max_width=28 if heading == "person"
                         else None)
    for r in rows:
        share = "" if r.within_window is None else f"{r.within_window:.0%}"
        counted = str(r.credited) + (f" (+{r.credited_set_by_backup})"
                                     if r.credited_set_by_backup else "")
        who = name_of(config, r.person) + (" (covering)" if r.segment == COVERAGE else "")
        table.add_row(who, str(r.leads), str(r.contacted), _num(r.median_minutes),
                      _num(r.p90_minutes), share, str(r.appointments), counted,
                      str(r.backup_bonus_appointments), str(r.lapses))
    return table


class MatplotlibCharts:
    """Report charts drawn with matplotlib (the ChartRenderer of `oscbot run`)."""

    def bar_chart(self, bars: Sequence[tuple[str, float]], *, title: str, axis: str,
                  top: float) -> bytes:
        """A PNG bar chart, 800 by 400 pixels."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot

        figure, axes = pyplot.subplots(figsize=(8, 4), dpi=100)
        try:
            axes.bar([label for label, _ in bars], [value for _, value in bars],
                     color="#1f3a5f")
            axes.set_ylim(0, top)
            axes.set_ylabel(axis)
            axes.set_title(title)
            axes.tick_params(axis="x", labelsize=8)
            figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            return buffer.getvalue()
        finally:
            pyplot.close(figure)
