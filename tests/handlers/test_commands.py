"""Parsing `/going-on-leave`: whole local days, inclusive end, emergencies, options."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import InvalidInput
from bot.messages import plain
from bot.model import AbsenceKind
from handlers.commands import parse_going_on_leave

NOW = datetime(2026, 11, 24, 18, tzinfo=UTC)


def test_dates_are_whole_local_days_with_an_inclusive_end() -> None:
    request = parse_going_on_leave("2026-12-01 2026-12-05 vacation", actor="Maria@rh.example",
                                   zone="America/Chicago", now=NOW)
    assert request.start == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert request.end == datetime(2026, 12, 6, 6, tzinfo=UTC)
    assert (request.kind, request.osc_email, request.emergency) == (
        AbsenceKind.VACATION, "maria@rh.example", False)


def test_options_and_notes() -> None:
    request = parse_going_on_leave(
        "2026-12-01 2026-12-01 day_off backup:Sam@rh.example for:alex@rh.example back Wed",
        actor="dana@rh.example", zone="America/Chicago", now=NOW)
    assert request.kind is AbsenceKind.DAY_OFF
    assert request.backup_email == "sam@rh.example"
    assert request.osc_email == "alex@rh.example"
    assert request.notes == "back Wed"


def test_emergency_starts_now_for_a_duration() -> None:
    request = parse_going_on_leave("now 2d sick", actor="maria@rh.example",
                                   zone="America/Chicago", now=NOW)
    assert request.emergency and request.start == NOW
    assert request.end == datetime(2026, 11, 26, 18, tzinfo=UTC)


@pytest.mark.parametrize(("text", "words"), [
    ("", "Usage"),
    ("2026-12-01", "Usage"),
    ("12/01 2026-12-05", "'12/01' is not a date"),
    ("2026-12-05 2026-12-01", "before the first"),
    ("now soon", "'soon' is not a date"),
])
def test_bad_input_is_explained(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_going_on_leave(text, actor="maria@rh.example", zone="America/Chicago", now=NOW)


def test_lead_calendar_is_personal_and_auditable_by_managers(config: object) -> None:
    from datetime import timedelta

    from bot.fakes.chat import RecordingChat
    from bot.fakes.clock import FixedClock
    from bot.fakes.repositories import in_memory_repositories
    from bot.model import Task
    from handlers.commands import lead_calendar
    from handlers.wiring import build_context

    repos = in_memory_repositories()

    ctx = build_context(config=config, repos=repos,  # type: ignore[arg-type]
                        clock=FixedClock(NOW), chat=RecordingChat(), sources={})
    for hours, title in ((-2, "Call back Pat"), (30, "Send Lot 14 pricing")):
        repos.tasks.add(Task(None, title, NOW + timedelta(hours=hours), "maria@rh.example",
                                 "maria@rh.example"))
    own = lead_calendar(ctx, actor="maria@rh.example")
    assert "Call back Pat" in str(own.blocks[1]) and "Send Lot 14" in str(own.blocks[2])
    audited = lead_calendar(ctx, actor="dana@rh.example", person="maria@rh.example")
    assert plain(audited.text) == "Lead calendar of Maria: 2 open."
    with pytest.raises(InvalidInput, match="only managers"):
        lead_calendar(ctx, actor="sam@rh.example", person="maria@rh.example")
