"""The Outlook calendar source: real msal + httpx against a local fake of Graph and
of the Entra token endpoint, with recorded Graph event JSON."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config.model import Policies
from bot.errors import CalendarError
from bot.model import AbsenceKind
from calendars.outlook import OutlookCalendarSource
from tests.fakes.graph import FakeGraph, graph_client

HERE = Path(__file__).parent / "graph"
MARIA = "maria@builder.example"
NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


def recorded(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(page_size=2) as fake:
        fake.now = lambda: NOW
        yield fake


def source(graph: FakeGraph, mailbox: str = MARIA, **kwargs: Any) -> OutlookCalendarSource:
    return OutlookCalendarSource(client=kwargs.pop("client", None) or graph_client(graph),
                                 mailbox=mailbox, time_zone="America/Chicago",
                                 policies=Policies(), page_size=2, **kwargs)


def read(calendar: OutlookCalendarSource, cursor: dict[str, str], now: datetime = NOW
         ) -> Any:
    return calendar.read(start=now - timedelta(days=1), end=now + timedelta(days=60),
                         cursor=cursor)


def test_recorded_events_become_absences_in_the_persons_zone(graph: FakeGraph) -> None:
    box = graph.mailbox(MARIA)
    box.put(recorded("all_day_oof.json"))
    for occurrence in recorded("recurring_with_exception.json")["value"]:
        box.put(occurrence)
    box.put(recorded("cancelled_occurrence.json"))
    first = read(source(graph), {})
    found = [(a.start.isoformat(), a.end.isoformat(), a.kind, a.all_day) for a in first.absences]
    # All-day events are the person's days: midnight in Chicago, not midnight UTC.
    assert found == [
        ("2026-12-07T06:00:00+00:00", "2026-12-08T06:00:00+00:00", AbsenceKind.DAY_OFF, True),
        ("2026-12-15T06:00:00+00:00", "2026-12-16T06:00:00+00:00", AbsenceKind.DAY_OFF, True),
        ("2026-12-21T06:00:00+00:00", "2026-12-28T06:00:00+00:00", AbsenceKind.OUT_OF_OFFICE,
         True),
    ]
    assert [s.reason for s in first.skipped] == ["cancelled"]
    # Paged with @odata.nextLink (page size 2), ending in an @odata.deltaLink.
    rounds = [r for r in graph.api("GET") if r.path.endswith("/calendarView/delta")]
    assert len(rounds) == 3 and "startDateTime" in rounds[0].query
    assert rounds[1].query.get("$skiptoken") and first.cursor["outlook_delta"]
    assert 'outlook.timezone="UTC"' in rounds[0].headers["prefer"]


def test_timed_oof_across_a_dst_change_keeps_its_instants(graph: FakeGraph) -> None:
    graph.mailbox(MARIA).put(recorded("timed_oof_dst.json"))
    march = datetime(2026, 3, 1, tzinfo=UTC)
    [absence] = read(source(graph), {}, now=march).absences
    # 5 PM CST (UTC-6) on Friday to 9 AM CDT (UTC-5) on Tuesday.
    assert (absence.start.isoformat(), absence.end.isoformat()) == (
        "2026-03-06T23:00:00+00:00", "2026-03-10T14:00:00+00:00")
    assert absence.kind is AbsenceKind.VACATION and not absence.all_day


def test_scheduled_automatic_reply_is_an_out_of_office_absence(graph: FakeGraph) -> None:
    box = graph.mailbox(MARIA)
    box.auto_replies = recorded("scheduled_auto_reply.json")
    [absence] = read(source(graph), {}, now=datetime(2027, 1, 2, tzinfo=UTC)).absences
    assert absence.kind is AbsenceKind.OUT_OF_OFFICE
    assert (absence.start.isoformat(), absence.end.isoformat()) == (
        "2027-01-04T06:00:00+00:00", "2027-01-11T06:00:00+00:00")
    assert absence.uids == ("automatic-replies",)


def test_incremental_sync_applies_changes_and_removals_only(graph: FakeGraph) -> None:
    box = graph.mailbox(MARIA)
    vacation = recorded("all_day_oof.json")
    box.put(vacation)
    calendar = source(graph)
    first = read(calendar, {})
    assert len(first.absences) == 1
    later = NOW + timedelta(minutes=1)
    assert read(calendar, first.cursor, later).unchanged
    delta_calls = [r for r in graph.api("GET") if "$deltatoken" in r.query]
    assert len(delta_calls) == 1
    # An update carrying only what changed, then a deletion reported as @removed.
    box.put({"id": vacation["id"], "subject": "Vacation", "isAllDay": True,
             "start": vacation["start"], "end": {"dateTime": "2026-12-24T00:00:00.0000000",
                                                 "timeZone": "UTC"}})
    second = read(calendar, first.cursor, later)
    [shorter] = second.absences
    assert shorter.end.isoformat() == "2026-12-24T06:00:00+00:00"
    assert shorter.kind is AbsenceKind.VACATION
    box.delete(vacation["id"])
    third = read(calendar, second.cursor, later)
    assert not third.unchanged and third.absences == ()


def test_expired_delta_link_410_means_a_full_resync(graph: FakeGraph) -> None:
    box = graph.mailbox(MARIA)
    vacation = recorded("all_day_oof.json")
    box.put(vacation)
    calendar = source(graph)
    first = read(calendar, {})
    box.forget_sync_state()
    box.delete(vacation["id"])
    again = read(calendar, first.cursor, NOW + timedelta(minutes=1))
    assert not again.unchanged and again.absences == ()
    statuses = [r.query for r in graph.api("GET") if r.path.endswith("/delta")]
    assert "startDateTime" in statuses[-1]  # a new round over the window
    assert again.cursor["outlook_delta"] != first.cursor["outlook_delta"]


def test_window_rolls_forward_with_a_fresh_round(graph: FakeGraph) -> None:
    graph.mailbox(MARIA)
    calendar = source(graph, window_ahead=timedelta(days=10))
    first = read(calendar, {})
    # Nothing changed, but a day later the window must move forward.
    read(calendar, first.cursor, NOW + timedelta(days=1, minutes=1))
    fresh = [r for r in graph.api("GET") if "startDateTime" in r.query]
    assert len(fresh) == 2
    assert fresh[1].query["startDateTime"][0] > fresh[0].query["startDateTime"][0]


def test_429_retry_after_and_5xx_backoff_then_success(graph: FakeGraph) -> None:
    graph.mailbox(MARIA).put(recorded("all_day_oof.json"))
    slept: list[float] = []
    client = graph_client(graph, sleep=slept.append)
    graph.fail_next(429, {"Retry-After": "7"}, code="ApplicationThrottled")
    graph.fail_next(503)
    assert len(read(source(graph, client=client), {}).absences) == 1
    assert slept[0] == 7.0 and 0 <= slept[1] <= 2.0


def test_failures_name_the_permission_and_keep_nothing(graph: FakeGraph) -> None:
    graph.mailbox(MARIA)
    graph.roles.discard("Calendars.Read")
    with pytest.raises(CalendarError) as refused:
        read(source(graph), {})
    message = str(refused.value)
    assert "Calendars.Read" in message and "Application Calendars.Read" in message
    assert "New-ManagementRoleAssignment" in message
    with pytest.raises(CalendarError, match=r"no such mailbox nobody@builder\.example"):
        read(source(graph, mailbox="nobody@builder.example"), {})


def test_at_most_four_requests_per_mailbox_at_once() -> None:
    with FakeGraph(page_size=50, delay=0.05) as graph:
        graph.mailbox(MARIA).put(recorded("all_day_oof.json"))
        client = graph_client(graph)
        errors: list[Exception] = []

        def one() -> None:
            try:
                source(graph, client=client).read(start=NOW, end=NOW + timedelta(days=30),
                                                  cursor={})
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and graph.throttled == 0
        assert graph.peak[MARIA] == 4


def test_a_failing_mailbox_keeps_its_last_good_copy_and_managers_hear_after_three(
        graph: FakeGraph) -> None:
    from bot.fakes.chat import RecordingChat
    from bot.fakes.clock import FixedClock
    from bot.fakes.repositories import in_memory_repositories
    from bot.model import CoverageStatus
    from handlers.wiring import build_context
    from schedules.jobs import job
    from tests.conftest import make_config

    graph.mailbox(MARIA).put(recorded("all_day_oof.json"))
    config = make_config(people=[
        {"email": MARIA, "name": "Maria", "role": "osc", "backups": ["jo@builder.example"],
         "calendar": {"outlook": MARIA}},
        {"email": "jo@builder.example", "name": "Jo", "role": "backup", "trained": True,
         "shadowed": True}],
        team={"name": "B", "channel": "#s", "managers": ["jo@builder.example"]})
    clock = FixedClock(NOW)
    repos = in_memory_repositories()
    ctx = build_context(config=config, repos=repos, clock=clock,
                        chat=RecordingChat(), sources={MARIA: source(graph)})
    sync = job("sync_calendars")
    assert sync.run(ctx).endswith("1 coverage changes")
    graph.fail_next(503, times=20)
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        assert "1 failed" in sync.run(ctx)
    state = repos.calendar_sync.get(MARIA)
    assert state is not None and state.stale and len(state.absences) == 1
    assert "Graph is unavailable" in state.last_error
    [coverage] = repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.PLANNED
    alerts = [i for i in repos.outbox.pending(limit=100) if i.key.startswith("calendar-")]
    assert len(alerts) == 1


def test_a_refused_client_secret_says_which_variables_to_check(graph: FakeGraph) -> None:
    import dataclasses

    from m365.graph import GraphClient

    graph.mailbox(MARIA)
    good = graph_client(graph)
    client = GraphClient(dataclasses.replace(good.config, client_secret="expired"),
                         verify=graph.ca_file, sleep=lambda _: None)
    with pytest.raises(CalendarError) as refused:
        read(source(graph, client=client), {})
    assert "invalid_client" in str(refused.value) and "GRAPH_CLIENT_SECRET" in str(refused.value)
    assert "expired" not in str(refused.value)
    assert graph.api() == []


def test_paging_links_to_another_host_are_never_followed(graph: FakeGraph) -> None:
    from m365.graph import GraphError

    client = graph_client(graph)
    with pytest.raises(GraphError, match=r"refusing to follow a link to evil\.example"):
        client.get("https://evil.example/v1.0/users/x/calendarView/delta", mailbox=MARIA)
    assert graph.requests == []


def test_unknown_time_zone_is_a_warning_and_counts_are_reported(graph: FakeGraph) -> None:
    odd = dict(recorded("timed_oof_dst.json"), id="AAMkAD-odd")
    odd["start"] = {"dateTime": "2026-12-07T08:00:00.0000000", "timeZone": "Mars Standard Time"}
    odd["end"] = {"dateTime": "2026-12-09T17:00:00.0000000", "timeZone": "Mars Standard Time"}
    box = graph.mailbox(MARIA)
    box.put(odd)
    box.put(recorded("all_day_oof.json"))
    calendar = source(graph)
    first = calendar.read(start=NOW - timedelta(days=1), end=NOW + timedelta(days=60),
                          cursor={})
    assert [(w.uid, w.reason) for w in first.warnings] == [
        ("AAMkAD-odd", "unknown time zone 'Mars Standard Time'; read in America/Chicago")]
    assert first.event_count == 2
    assert first.absences[0].start.isoformat() == "2026-12-07T14:00:00+00:00"


# --- #23 item 28 ------------------------------------------------------------------------

def test_a_scheduled_automatic_reply_counts_whatever_the_case_of_its_status(
        graph: FakeGraph) -> None:
    # Exchange writes the status as "Scheduled" (Set-MailboxAutoReplyConfiguration).
    box = graph.mailbox(MARIA)
    box.auto_replies = dict(recorded("scheduled_auto_reply.json"), status="Scheduled")
    first = read(source(graph), {}, now=datetime(2027, 1, 2, tzinfo=UTC))
    [absence] = first.absences
    assert absence.uids == ("automatic-replies",) and first.event_count == 1


def test_two_replicas_over_the_mailbox_limit_wait_out_the_429s() -> None:
    # Each replica keeps to four requests per mailbox; two replicas can send eight, and
    # Exchange answers the excess 429 with Retry-After, which both wait out.
    with FakeGraph(page_size=50, delay=0.05) as graph:
        graph.mailbox(MARIA).put(recorded("all_day_oof.json"))
        slept: list[float] = []

        def wait(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        replicas = [graph_client(graph, sleep=wait) for _ in range(2)]
        errors: list[Exception] = []

        def one(client: Any) -> None:
            try:
                source(graph, client=client).read(start=NOW, end=NOW + timedelta(days=30),
                                                  cursor={})
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(replicas[n % 2],)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert graph.throttled > 0 and slept and all(s == 1.0 for s in slept)
