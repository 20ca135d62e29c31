"""`/coverage` answers are reused for a second per time zone, then read afresh."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from bot.context import AppContext
from bot.model import AbsenceKind
from handlers.slack.commands import STATUS_FRESH_FOR, RecentAnswers
from tests.handlers.slack import test_app as shared
from tests.handlers.slack.test_app import T0, command

slack, ctx, base = shared.slack, shared.ctx, shared.base


def test_an_answer_is_reused_while_fresh_and_recomputed_after() -> None:
    now = [100.0]
    answers = RecentAnswers(1.0, clock=lambda: now[0])
    assert answers.get("America/Chicago") is None
    answers.put("America/Chicago", {"text": "Everyone is in."})
    now[0] += 0.99
    assert answers.get("America/Chicago") == {"text": "Everyone is in."}
    assert answers.get("Europe/Madrid") is None
    now[0] += 0.01
    assert answers.get("America/Chicago") is None


def test_a_new_coverage_shows_in_coverage_within_a_second(base: str, ctx: AppContext) -> None:
    before = command(base, "/coverage", "USAM").json()
    assert "Everyone is in" in json.dumps(before)
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0 + timedelta(days=1),
                         end=T0 + timedelta(days=3), kind=AbsenceKind.VACATION,
                         actor="maria@rh.example")
    time.sleep(STATUS_FRESH_FOR)
    after = command(base, "/coverage", "USAM").json()
    assert "Maria — planned" in json.dumps(after, ensure_ascii=False)
