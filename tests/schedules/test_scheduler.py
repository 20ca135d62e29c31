"""Scheduled job logging: a pass that did nothing stays at DEBUG."""

from __future__ import annotations

import logging

import pytest

from bot.config.model import AppConfig
from bot.config.settings import configure_logging
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from handlers.wiring import build_context
from schedules.jobs import did_something
from schedules.scheduler import build_scheduler


def test_idle_passes_log_at_debug_and_work_at_info(
        config: AppConfig, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:
    ctx = build_context(config=config, repos=in_memory_repositories(), clock=clock,
                        chat=RecordingChat(), sources={})
    scheduler = build_scheduler(ctx)
    caplog.set_level(logging.DEBUG, logger="schedules.scheduler")
    for name in ("sweep_leads", "deliver_outbox", "send_reminders", "coverage_tick",
                 "sync_calendars", "weekly_digest"):
        scheduler.get_job(name).func()
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * 6
    assert not any(r.levelno >= logging.INFO for r in caplog.records)


def test_did_something_reads_the_counts() -> None:
    assert not did_something("0 alerts, 0 escalations")
    assert not did_something("0 sent, 0 to retry, 0 failed")
    assert not did_something("not due (Mondays from 9:00 team time)")
    assert not did_something("read 4 calendars (4 unchanged, 0 failed), 0 coverage changes")
    assert did_something("read 4 calendars (3 unchanged, 0 failed), 1 coverage changes")
    assert did_something("1 sent, 0 to retry, 0 failed")
    assert did_something("digest for week 48 of 2026 posted (3 rows)")


def test_log_level_is_validated() -> None:
    with pytest.raises(ValueError, match="use one of DEBUG, INFO, WARNING, ERROR"):
        configure_logging("LOUD")
