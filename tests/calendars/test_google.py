"""Google Calendar through the real client and google-auth, against a local fake API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from bot.config.model import Policies
from bot.errors import CalendarError
from bot.model import AbsenceKind
from calendars.google import GoogleCalendarSource
from calendars.google_push import (
    WatchChannel,
    channels_to_renew,
    close_channel,
    notification_target,
    open_channel,
)
from tests.fakes.google_calendar import FakeGoogle

MARIA = "maria@builder.example"
START, END = datetime(2026, 11, 30, tzinfo=UTC), datetime(2027, 1, 30, tzinfo=UTC)


def ooo(event_id: str, start: str, end: str, summary: str = "Out of office",
        **extra: Any) -> dict[str, Any]:
    return {"kind": "calendar#event", "id": event_id, "status": "confirmed",
            "summary": summary, "eventType": "outOfOffice",
            "start": {"dateTime": start, "timeZone": "America/Chicago"},
            "end": {"dateTime": end, "timeZone": "America/Chicago"},
            "outOfOfficeProperties": {"autoDeclineMode": "declineAllConflictingInvitations"},
            **extra}


def all_day(event_id: str, start: str, end: str, summary: str) -> dict[str, Any]:
    return {"kind": "calendar#event", "id": event_id, "status": "confirmed", "summary": summary,
            "eventType": "default", "transparency": "transparent",
            "start": {"date": start}, "end": {"date": end}}


@pytest.fixture(scope="module")
def key_info() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "oscbot-test", "private_key_id": "k1",
            "private_key": pem, "client_email": "oscbot@oscbot-test.iam.gserviceaccount.com",
            "client_id": "1"}


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(page_size=2) as fake:
        yield fake


def source(google: FakeGoogle, key_info: dict[str, str], sleeps: list[float] | None = None,
           calendar_id: str = MARIA) -> GoogleCalendarSource:
    info = dict(key_info, token_uri=f"{google.base}/token")
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        info, scopes=["https://www.googleapis.com/auth/calendar.readonly"]).with_subject(MARIA)
    log = sleeps if sleeps is not None else []
    return GoogleCalendarSource(calendar_id=calendar_id, credentials=credentials,
                                time_zone="America/Chicago", policies=Policies(),
                                api_endpoint=google.url, sleep=log.append)


def test_full_sync_pages_and_delegates_to_the_osc(google: FakeGoogle,
                                                  key_info: dict[str, str]) -> None:
    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    google.put(MARIA, all_day("v1", "2026-12-21", "2026-12-26", "Vacation"))
    google.put(MARIA, all_day("m1", "2026-12-08", "2026-12-09", "Model home walk"))
    read = source(google, key_info).read(start=START, end=END, cursor={})
    assert [(a.kind, a.start.isoformat(), a.end.isoformat()) for a in read.absences] == [
        (AbsenceKind.OUT_OF_OFFICE, "2026-12-03T14:00:00+00:00", "2026-12-04T23:00:00+00:00"),
        (AbsenceKind.VACATION, "2026-12-21T06:00:00+00:00", "2026-12-26T06:00:00+00:00")]
    assert [s.uid for s in read.skipped] == ["m1"]
    assert google.token_subjects() == [MARIA]
    first, second = google.api_requests()
    assert first.path == "/calendar/v3/calendars/maria%40builder.example/events"
    assert first.query["singleEvents"] == ["true"] and "timeMin" in first.query
    assert second.query["pageToken"] == ["2"]
    assert read.cursor["sync_token"] == "3"


def test_incremental_sync_empty_page_is_unchanged_then_changes_apply(
        google: FakeGoogle, key_info: dict[str, str]) -> None:
    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    calendar = source(google, key_info)
    first = calendar.read(start=START, end=END, cursor={})
    quiet = calendar.read(start=START, end=END, cursor=first.cursor)
    assert quiet.unchanged and quiet.absences == ()
    assert google.api_requests()[-1].query["syncToken"] == ["1"]
    assert "timeMin" not in google.api_requests()[-1].query
    google.put(MARIA, all_day("v1", "2026-12-21", "2026-12-23", "PTO"))
    google.delete(MARIA, "o1")
    changed = calendar.read(start=START, end=END, cursor=quiet.cursor)
    assert not changed.unchanged
    assert [(a.kind, a.summary) for a in changed.absences] == [(AbsenceKind.VACATION, "PTO")]


def test_gone_sync_token_triggers_a_full_resync(google: FakeGoogle,
                                                key_info: dict[str, str]) -> None:
    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    calendar = source(google, key_info)
    first = calendar.read(start=START, end=END, cursor={})
    google.expired_tokens.add(first.cursor["sync_token"])
    again = calendar.read(start=START, end=END, cursor=first.cursor)
    assert [a.summary for a in again.absences] == ["Out of office"]
    assert "timeMin" in google.api_requests()[-1].query


def test_rate_limits_and_server_errors_back_off_then_succeed(
        google: FakeGoogle, key_info: dict[str, str]) -> None:
    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    google.fail_next(403, "rateLimitExceeded")
    google.fail_next(429, "rateLimitExceeded")
    google.fail_next(503, "backendError")
    sleeps: list[float] = []
    read = source(google, key_info, sleeps).read(start=START, end=END, cursor={})
    assert len(read.absences) == 1
    assert len(sleeps) == 3 and all(0 <= s <= 32 for s in sleeps)


def test_persistent_failures_and_forbidden_become_calendar_errors(
        google: FakeGoogle, key_info: dict[str, str]) -> None:
    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    google.fail_next(500, "backendError", times=5)
    with pytest.raises(CalendarError, match="HTTP 500"):
        source(google, key_info).read(start=START, end=END, cursor={})
    google.failures.clear()
    google.fail_next(403, "forbidden")
    with pytest.raises(CalendarError, match="HTTP 403 forbidden"):
        source(google, key_info).read(start=START, end=END, cursor={})
    with pytest.raises(CalendarError, match="HTTP 404 notFound"):
        source(google, key_info, calendar_id="nobody@builder.example").read(
            start=START, end=END, cursor={})


def test_push_channel_open_renew_notify_and_close(google: FakeGoogle,
                                                  key_info: dict[str, str]) -> None:
    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    service = source(google, key_info).service
    channel = open_channel(service, osc_email=MARIA, calendar_id=MARIA,
                           address="https://oscbot.builder.example/calendar/google/notifications")
    sent = google.channels[channel.channel_id]
    assert sent["type"] == "web_hook" and sent["token"] == channel.token
    assert sent["params"] == {"ttl": "604800"}
    assert channel.expires_at == datetime(2026, 11, 30, 0, 53, 20, tzinfo=UTC)
    assert WatchChannel.from_cursor(MARIA, channel.to_cursor()) == channel
    early = datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert channels_to_renew([channel], now=early) == []
    assert channels_to_renew([channel], now=datetime(2026, 11, 29, 19, tzinfo=UTC)) == [channel]
    known = {channel.channel_id: channel}
    headers = {"X-Goog-Channel-ID": channel.channel_id, "X-Goog-Channel-Token": channel.token,
               "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "2"}
    assert notification_target(headers, known) == MARIA
    assert notification_target({**headers, "X-Goog-Resource-State": "sync"}, known) is None
    assert notification_target({**headers, "X-Goog-Channel-Token": "forged"}, known) is None
    assert notification_target({**headers, "X-Goog-Channel-ID": "other"}, known) is None
    close_channel(service, channel)
    assert google.channels == {}
    close_channel(service, channel)


def test_renewal_job_opens_keeps_and_replaces_channels(google: FakeGoogle,
                                                       key_info: dict[str, str]) -> None:
    from bot.fakes.chat import RecordingChat
    from bot.fakes.clock import FixedClock
    from bot.fakes.repositories import in_memory_repositories
    from handlers.wiring import build_context
    from schedules.jobs import job
    from tests.conftest import make_config

    config = make_config(people=[
        {"email": MARIA, "name": "Maria", "role": "osc", "backups": ["jo@builder.example"],
         "calendar": {"google": MARIA}},
        {"email": "jo@builder.example", "name": "Jo", "role": "backup", "trained": True,
         "shadowed": True}], team={"name": "B", "channel": "#s", "managers": []})
    clock = FixedClock(datetime(2026, 11, 24, tzinfo=UTC))
    repos, sources = in_memory_repositories(), {MARIA: source(google, key_info)}
    ctx = build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                        sources=sources)
    renew = job("renew_calendar_channels")
    assert "polling only" in renew.run(ctx)
    ctx = build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                        sources=sources, public_url="https://oscbot.builder.example")
    assert renew.run(ctx) == "1 channels opened or renewed"
    [first] = google.channels
    assert google.channels[first]["address"] == (
        "https://oscbot.builder.example/calendar/google/notifications")
    assert renew.run(ctx) == "0 channels opened or renewed"
    clock.set(datetime(2026, 11, 29, 20, tzinfo=UTC))
    assert renew.run(ctx) == "1 channels opened or renewed"
    assert first not in google.channels and len(google.channels) == 1


def test_refused_credentials_are_one_clear_calendar_error(google: FakeGoogle) -> None:
    from google.oauth2.credentials import Credentials

    calendar = GoogleCalendarSource(calendar_id=MARIA, credentials=Credentials(token="revoked"),
                                    time_zone="America/Chicago", policies=Policies(),
                                    api_endpoint=google.url, sleep=lambda _: None)
    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    with pytest.raises(CalendarError, match="service account was refused"):
        calendar.read(start=START, end=END, cursor={})


def test_push_needs_https_and_is_refused_before_google_is_asked(
        google: FakeGoogle, key_info: dict[str, str]) -> None:
    from bot.fakes.chat import RecordingChat
    from bot.fakes.clock import FixedClock
    from bot.fakes.repositories import in_memory_repositories
    from handlers.wiring import build_context
    from tests.conftest import make_config

    config = make_config(people=[
        {"email": MARIA, "name": "Maria", "role": "osc", "backups": ["jo@builder.example"],
         "calendar": {"google": MARIA}},
        {"email": "jo@builder.example", "name": "Jo", "role": "backup", "trained": True,
         "shadowed": True}], team={"name": "B", "channel": "#s", "managers": []})
    ctx = build_context(config=config, repos=in_memory_repositories(),
                        clock=FixedClock(datetime(2026, 11, 24, tzinfo=UTC)),
                        chat=RecordingChat(), sources={MARIA: source(google, key_info)},
                        public_url="http://oscbot.builder.example")
    with pytest.raises(CalendarError, match="only to HTTPS addresses, not http://oscbot"):
        ctx.push["google"].ensure(MARIA)
    assert not [r for r in google.requests if r.path.endswith("/watch")]
    with pytest.raises(CalendarError, match="set OSCBOT_PUBLIC_URL to an https:// URL"):
        open_channel(source(google, key_info).service, osc_email=MARIA, calendar_id=MARIA,
                     address="http://oscbot.builder.example/calendar/google/notifications")


def test_the_fake_refuses_what_google_refuses(google: FakeGoogle) -> None:
    import httpx

    google.put(MARIA, ooo("o1", "2026-12-03T08:00:00-06:00", "2026-12-04T17:00:00-06:00"))
    auth = {"Authorization": "Bearer ya29.fake-token"}
    events = f"{google.url}calendars/{MARIA}/events"
    assert httpx.get(events, params={"maxResults": 2501}, headers=auth).status_code == 400
    assert httpx.get(events, params={"maxResults": 2500}, headers=auth).status_code == 200
    for extra in ({"timeMin": "2026-11-01T00:00:00Z"}, {"showDeleted": "false"}, {"q": "x"}):
        refused = httpx.get(events, params={"syncToken": "0", **extra}, headers=auth)
        assert refused.status_code == 400, extra
    assert httpx.get(events, params={"syncToken": "0", "singleEvents": "true"},
                     headers=auth).status_code == 200
    watch = httpx.post(f"{events}/watch", headers=auth, json={
        "id": "c1", "type": "web_hook", "address": "http://oscbot.builder.example/x"})
    assert watch.status_code == 400
    assert watch.json()["error"]["errors"][0]["reason"] == "push.webhookUrlNotHttps"
