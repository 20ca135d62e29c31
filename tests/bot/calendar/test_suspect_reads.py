"""A feed that glitches to empty never ends a coverage; a real removal asks the OSC first.

The real `sync_calendars` and `coverage_tick` jobs, SQLite storage, and an ICS
feed served over HTTP by a local server whose content the test switches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.messages import ActionId, Actions
from bot.model import CoverageStatus
from bot.ports.repositories import Repositories
from calendars.ics import IcsSource
from handlers.actions import press
from handlers.wiring import build_context
from schedules.jobs import job
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories

MARIA, JORDAN, DANA = "maria@rh.example", "jordan@rh.example", "dana@rh.example"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
VACATION_START = datetime(2026, 12, 7, 6, tzinfo=UTC)  # Dec 7, midnight in Chicago
VACATION_END = datetime(2026, 12, 12, 6, tzinfo=UTC)


def event(uid: str, summary: str, start: str, end: str) -> str:
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n"
            f"DTSTART{start}\r\nDTEND{end}\r\nEND:VEVENT\r\n")


MEETINGS = "".join(event(f"m{n}@rh", "Sales meeting", f":2026120{n}T150000Z",
                         f":2026120{n}T160000Z") for n in range(1, 4))
VACATION = event("vac@rh", "Vacation", ";VALUE=DATE:20261207", ";VALUE=DATE:20261212")


def feed(body: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar//EN\r\n"
            + body + "END:VCALENDAR\r\n").encode()


class Feed(BaseHTTPRequestHandler):
    """Maria's calendar, whatever the test last put in `body`, with an ETag per version."""

    body = feed(VACATION + MEETINGS)

    def do_GET(self) -> None:
        etag = f'"{hash(Feed.body)}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(Feed.body)))
        self.end_headers()
        self.wfile.write(Feed.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def repos(tmp_path: Path) -> Iterator[Repositories]:
    """The repositories on a SQLite file (this module's, in place of the in-memory ones)."""
    url = f"sqlite:///{tmp_path / 'oscbot.db'}"
    upgrade(url)
    engine = engine_from_url(url)
    yield sql_repositories(engine)
    engine.dispose()


@pytest.fixture
def ctx(config: AppConfig, repos: Repositories) -> Iterator[AppContext]:
    Feed.body = feed(VACATION + MEETINGS)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    source = IcsSource(f"http://127.0.0.1:{server.server_address[1]}/maria.ics",
                       time_zone="America/Chicago", policies=config.policies)
    yield build_context(config=config, repos=repos, clock=FixedClock(T0),
                        chat=RecordingChat(), sources={MARIA: source})
    server.shutdown()
    server.server_close()


def run(ctx: AppContext, name: str) -> str:
    return job(name).run(ctx)


def on_leave(ctx: AppContext, repos: Repositories) -> int:
    """Sync, let the vacation start, and return the active coverage's id."""
    assert "0 failed" in run(ctx, "sync_calendars")
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.set(VACATION_START + timedelta(hours=1))
    run(ctx, "coverage_tick")
    [coverage] = repos.coverages.list(osc_email=MARIA)
    assert coverage.status is CoverageStatus.ACTIVE and coverage.id is not None
    return coverage.id


def questions(repos: Repositories) -> dict[str, list[ActionId]]:
    found = {}
    for item in repos.outbox.pending(limit=500):
        if item.key.startswith("return-check:"):
            found[item.target] = [b.action for block in item.message.blocks
                                  if isinstance(block, Actions) for b in block.buttons]
    return found


def test_an_empty_feed_keeps_the_last_good_copy_and_the_coverage(ctx: AppContext,
                                                                 repos: Repositories) -> None:
    coverage_id = on_leave(ctx, repos)
    Feed.body = feed("")
    assert "1 suspect" in run(ctx, "sync_calendars")
    state = repos.calendar_sync.get(MARIA)
    assert state is not None and state.stale and state.suspect_since is not None
    assert [a.uids for a in state.absences] == [("vac@rh",)]
    assert repos.coverages.get(coverage_id).status is CoverageStatus.ACTIVE
    assert repos.routes.get(osc_email=MARIA, channel="leads") == JORDAN
    assert questions(repos) == {}
    Feed.body = feed(VACATION + MEETINGS)
    assert "0 suspect" in run(ctx, "sync_calendars")
    run(ctx, "coverage_tick")
    assert [c.id for c in repos.coverages.list(osc_email=MARIA)] == [coverage_id]
    briefs = [i for i in repos.outbox.pending(limit=500) if i.key.startswith("brief:")]
    assert len(briefs) == 1


def test_a_lasting_empty_feed_asks_and_the_coverage_ends_as_planned(ctx: AppContext,
                                                                    repos: Repositories) -> None:
    coverage_id = on_leave(ctx, repos)
    Feed.body = feed("")
    assert isinstance(ctx.clock, FixedClock)
    for _ in range(7):
        run(ctx, "sync_calendars")
        run(ctx, "coverage_tick")
        ctx.clock.advance(timedelta(hours=1))
    assert repos.coverages.get(coverage_id).status is CoverageStatus.ACTIVE
    assert questions(repos) == {MARIA: [ActionId.COVERAGE_BACK, ActionId.COVERAGE_STILL_AWAY],
                              DANA: [ActionId.COVERAGE_BACK, ActionId.COVERAGE_STILL_AWAY]}
    ctx.clock.set(VACATION_END)
    run(ctx, "coverage_tick")
    assert repos.coverages.get(coverage_id).status is CoverageStatus.RETURNED


def test_a_removed_leave_asks_the_osc_who_answers_back(ctx: AppContext,
                                                       repos: Repositories) -> None:
    coverage_id = on_leave(ctx, repos)
    Feed.body = feed(MEETINGS)
    assert "1 coverage changes" in run(ctx, "sync_calendars")
    assert repos.coverages.get(coverage_id).status is CoverageStatus.ACTIVE
    [item] = [i for i in repos.outbox.pending(limit=500)
              if i.key == f"return-check:{coverage_id}:{MARIA}"]
    assert item.message.text == (
        "Your calendar no longer shows your leave — are you back?")
    assert "1 unchanged" in run(ctx, "sync_calendars")
    assert press(ctx, action=ActionId.COVERAGE_STILL_AWAY, value=str(coverage_id),
                 actor=JORDAN).startswith("Sorry")
    assert press(ctx, action=ActionId.COVERAGE_STILL_AWAY, value=str(coverage_id),
                 actor=MARIA).startswith("Got it")
    assert repos.coverages.get(coverage_id).status is CoverageStatus.ACTIVE
    assert press(ctx, action=ActionId.COVERAGE_BACK, value=str(coverage_id),
                 actor=MARIA).startswith("Coverage ended")
    assert repos.coverages.get(coverage_id).status is CoverageStatus.RETURNED
    assert repos.routes.get(osc_email=MARIA, channel="leads") != JORDAN


def meetings(count: int) -> str:
    """`count` one-hour meetings on Dec 1, none of them an absence."""
    return "".join(event(f"meeting{n}@rh", "Sales meeting", f":20261201T{10 + n:02d}0000Z",
                         f":20261201T{10 + n:02d}3000Z") for n in range(count))


def test_a_feed_that_lost_most_of_its_events_is_kept_until_the_drop_has_held(
        ctx: AppContext, repos: Repositories) -> None:
    Feed.body = feed(VACATION + meetings(9))  # 10 events
    coverage_id = on_leave(ctx, repos)
    Feed.body = feed(meetings(3))  # 10 → 3, the leave among the lost
    assert isinstance(ctx.clock, FixedClock)
    for _ in range(6):
        assert "1 suspect" in run(ctx, "sync_calendars")
        run(ctx, "coverage_tick")
        state = repos.calendar_sync.get(MARIA)
        assert state is not None and state.stale and state.event_count == 10
        assert [a.uids for a in state.absences] == [("vac@rh",)]
        assert repos.routes.get(osc_email=MARIA, channel="leads") == JORDAN
        assert questions(repos) == {}
        ctx.clock.advance(timedelta(hours=1))
    # Six hours on, the drop is believed: the OSC is asked whether they are back.
    assert run(ctx, "sync_calendars").endswith("0 suspect), 1 coverage changes")
    state = repos.calendar_sync.get(MARIA)
    assert state is not None and not state.stale and state.suspect_since is None
    assert state.event_count == 3 and state.absences == ()
    assert repos.coverages.get(coverage_id).status is CoverageStatus.ACTIVE
    assert set(questions(repos)) == {MARIA, DANA}


@pytest.mark.parametrize(("before", "after"), [(9, 5), (2, 0)],
                         ids=["10 to 6 events", "3 to 1 event"])
def test_a_feed_that_lost_only_a_few_events_is_applied_at_once(
        ctx: AppContext, repos: Repositories, before: int, after: int) -> None:
    Feed.body = feed(VACATION + meetings(before))
    coverage_id = on_leave(ctx, repos)
    Feed.body = feed(meetings(after + 1))  # the leave and a few meetings gone
    assert run(ctx, "sync_calendars").endswith("0 suspect), 1 coverage changes")
    state = repos.calendar_sync.get(MARIA)
    assert state is not None and not state.stale and state.event_count == after + 1
    assert repos.coverages.get(coverage_id).status is CoverageStatus.ACTIVE
    assert set(questions(repos)) == {MARIA, DANA}
