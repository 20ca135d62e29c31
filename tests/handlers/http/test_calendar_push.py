"""A Google push notification syncs that OSC's calendar at once; forged ones do nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from bot.config.model import AppConfig
from bot.fakes.calendars import InMemoryCalendar
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.model import Absence, AbsenceKind
from bot.ports.calendars import CalendarSyncState
from calendars.google_push import WatchChannel
from handlers.http.app import create_app
from handlers.wiring import build_context

MARIA = "maria@rh.example"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)


def test_notification_triggers_a_sync_of_that_calendar(config: AppConfig) -> None:
    calendar = InMemoryCalendar([Absence(datetime(2026, 12, 3, 6, tzinfo=UTC),
                                         datetime(2026, 12, 4, 6, tzinfo=UTC),
                                         AbsenceKind.OUT_OF_OFFICE, True, "OOO", ("g1",))])
    repos = in_memory_repositories()
    ctx = build_context(config=config, repos=repos, clock=FixedClock(T0),
                        chat=RecordingChat(), sources={MARIA: calendar})
    channel = WatchChannel(MARIA, "chan-1", "res-1", "secret-token",
                           datetime(2026, 12, 7, tzinfo=UTC))
    repos.calendar_sync.save(CalendarSyncState(MARIA, channel.to_cursor(), (), None))
    client = TestClient(create_app(ctx, lead_secret=None))
    headers = {"X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": "forged",
               "X-Goog-Resource-State": "exists"}
    assert client.post("/calendar/google/notifications", headers=headers).status_code == 204
    assert calendar.reads == 0
    headers["X-Goog-Channel-Token"] = "secret-token"
    assert client.post("/calendar/google/notifications", headers=headers).status_code == 204
    assert calendar.reads == 1
    assert len(repos.coverages.list(osc_email=MARIA)) == 1
