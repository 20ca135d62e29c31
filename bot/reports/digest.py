"""The weekly digest: last week's numbers per person and their chart, for the team channel."""

from __future__ import annotations

from collections.abc import Sequence

from bot.config.model import AppConfig
from bot.messages import Bullets, Context, Header, Message
from bot.ports.reports import ChartRenderer
from bot.reports.numbers import ReportRow
from bot.team.names import name_of, named


def digest_message(rows: Sequence[ReportRow], *, config: AppConfig, period: str) -> Message:
    """The weekly digest posted in the team channel."""
    lines = []
    for r in rows:
        share = "–" if r.within_window is None else f"{r.within_window:.0%}"
        median = "–" if r.median_minutes is None else f"{r.median_minutes:.0f} min"
        lines.append(f"{named(config, r.person)} ({r.segment}): {r.leads} leads, "
                     f"{share} contacted within {window_label(config)}, median {median}, "
                     f"{_appointments(r)}, {r.lapses} lapses")
    total = sum(r.leads for r in rows)
    return Message(text=f"Weekly online sales digest ({period}): {total} leads.", blocks=(
        Header(f"Weekly digest — {period}"),
        Bullets("Speed to lead and results", tuple(lines), empty="No leads this week."),
        Context("Coverage rows are leads handled while covering for someone."),
    ))


def digest_chart(rows: Sequence[ReportRow], *, config: AppConfig, period: str,
                 charts: ChartRenderer) -> bytes:
    """The digest's chart: the share of leads contacted within the window, per person."""
    bars = [(f"{name_of(config, r.person)}\n({r.segment})", (r.within_window or 0.0) * 100)
            for r in rows]
    return charts.bar_chart(bars, title=f"Speed to lead — {period}",
                            axis=f"% contacted within {window_label(config)}", top=100)


def _appointments(row: ReportRow) -> str:
    """Appointments as the credit rule counts them: in the OSC's numbers, noting those
    the backup set while covering; a backup's own bonus ones named as such."""
    text = f"{row.credited} appointments in their numbers"
    if row.credited_set_by_backup:
        text += f" ({row.credited_set_by_backup} set by the backup)"
    if row.backup_bonus_appointments:
        text += f", {row.backup_bonus_appointments} bonus earned covering"
    return text


def window_label(config: AppConfig) -> str:
    """The speed-to-lead window as a label, `5 min`."""
    return f"{int(config.policies.speed_to_lead.total_seconds() // 60)} min"
