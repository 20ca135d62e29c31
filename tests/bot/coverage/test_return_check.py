"""The "are you back?" question: platform-neutral content, rendered for Slack and the console."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from bot.config.model import AppConfig
from bot.coverage.backups import BackupChoice
from bot.coverage.lifecycle import activate, plan_coverage
from bot.coverage.return_check import return_question
from bot.messages import ActionId, plain
from bot.model import Absence, AbsenceKind, Coverage, CoverageOrigin
from handlers.console.render import render as console_render
from handlers.slack.blocks import render as slack_render

START = datetime(2026, 12, 7, 6, tzinfo=UTC)
END = datetime(2026, 12, 12, 6, tzinfo=UTC)


def coverage(config: AppConfig) -> Coverage:
    planned = plan_coverage(
        osc_email="maria@rh.example", start=START, end=END, kind=AbsenceKind.VACATION,
        origin=CoverageOrigin.CALENDAR, choice=BackupChoice(config.person("jordan@rh.example"),
                                                            ()),
        policies=config.policies, source_uids=("vac@rh",))
    return dataclasses.replace(activate(planned, now=START), id=7)


def test_the_osc_is_asked_in_their_own_words_and_zone(config: AppConfig) -> None:
    message = return_question(coverage(config), absence=None, config=config,
                              reader="maria@rh.example")
    assert plain(message.text) == "Your calendar no longer shows your leave — are you back?"
    text, blocks = slack_render(message, user_id_for=lambda _: None, name_for=str)
    assert text == plain(message.text)
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        (f"{ActionId.COVERAGE_BACK.value}#0", "7"),
        (f"{ActionId.COVERAGE_STILL_AWAY.value}#1", "7")]
    assert "Sat Dec 12, 12:00 AM CST" in str(blocks)  # the planned end, in Chicago time
    shown = console_render(message, name_for=str)
    assert [b.label for b in shown.buttons] == ["Yes, I'm back", "No, still away"]


def test_a_manager_is_asked_about_the_osc_and_a_shortened_leave(config: AppConfig) -> None:
    shorter = Absence(START, datetime(2026, 12, 9, 6, tzinfo=UTC), AbsenceKind.VACATION, True,
                      "Vacation", ("vac@rh",))
    message = return_question(coverage(config), absence=shorter, config=config,
                              reader="dana@rh.example")
    assert plain(message.text) == ("Maria's calendar now shows the leave ending Wed Dec 9, "
                            "12:00 AM CST — is Maria back?")
