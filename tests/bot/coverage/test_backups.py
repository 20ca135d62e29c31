"""Backup choice: ordered list, skip the ineligible, say why, never route to nobody silently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config.model import AppConfig
from bot.coverage.backups import choose_backup
from tests.conftest import make_config

START = datetime(2026, 12, 1, 6, tzinfo=UTC)
END = START + timedelta(days=4)


def nobody_away(email: str, start: datetime, end: datetime) -> bool:
    return False


def test_first_eligible_backup_is_chosen(config: AppConfig) -> None:
    choice = choose_backup(config=config, osc_email="maria@rh.example", start=START, end=END,
                           is_away=nobody_away, open_leads={})
    assert choice.backup is not None and choice.backup.email == "jordan@rh.example"
    assert choice.skipped == () and not choice.fell_back


def test_away_backup_is_skipped_with_reason(config: AppConfig) -> None:
    def jordan_away(email: str, start: datetime, end: datetime) -> bool:
        return email == "jordan@rh.example"

    choice = choose_backup(config=config, osc_email="maria@rh.example", start=START, end=END,
                           is_away=jordan_away, open_leads={})
    assert choice.backup is not None and choice.backup.email == "sam@rh.example"
    assert choice.fell_back
    assert [(s.email, s.reason) for s in choice.skipped] == [
        ("jordan@rh.example", "is away during the absence")]


def test_backup_at_capacity_is_skipped(config: AppConfig) -> None:
    choice = choose_backup(config=config, osc_email="maria@rh.example", start=START, end=END,
                           is_away=nobody_away, open_leads={"jordan@rh.example": 2})
    assert choice.backup is not None and choice.backup.email == "sam@rh.example"
    assert choice.skipped[0].reason == "at capacity (2 of 2 open leads)"


def test_untrained_and_unshadowed_backups_are_skipped() -> None:
    config = make_config()
    people = [p if p["email"] != "jordan@rh.example" else {**p, "trained": False}
              for p in config.model_dump(mode="json")["people"]]
    config = make_config(people=people)
    choice = choose_backup(config=config, osc_email="alex@rh.example", start=START, end=END,
                           is_away=lambda e, s, n: e == "sam@rh.example", open_leads={})
    assert choice.backup is None
    assert [s.reason for s in choice.skipped] == [
        "is away during the absence", "has not shadowed the OSC yet"]
    untrained = choose_backup(config=config, osc_email="maria@rh.example", start=START,
                              end=END, is_away=nobody_away, open_leads={})
    assert untrained.skipped[0].reason == "not trained on the lead tools"


def test_preferred_backup_goes_first(config: AppConfig) -> None:
    choice = choose_backup(config=config, osc_email="maria@rh.example", start=START, end=END,
                           is_away=nobody_away, open_leads={}, preferred="SAM@rh.example")
    assert choice.backup is not None and choice.backup.email == "sam@rh.example"
