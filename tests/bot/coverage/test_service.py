"""Coverage service end to end on in-memory ports: declare, calendar, start, end."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import AppConfig
from bot.coverage.service import CoverageService
from bot.delivery.notify import Notifier
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from bot.fakes.routing import FakeCrmItem, InMemoryCrm
from bot.messages import Actions, Bullets, plain
from bot.model import Absence, AbsenceKind, CoverageOrigin, CoverageStatus, Task
from bot.ports.calendars import CalendarSyncState
from bot.ports.delivery import OutboxStatus
from bot.ports.repositories import Repositories
from bot.ports.routing import RecordKind, SwitchStatus
from bot.routing.crm_handover import CrmRouting
from bot.routing.engine import RoutingEngine
from handlers.wiring import build_context
from routing.builtin import BuiltinRouting
from routing.manual import ManualRouting

MARIA, JORDAN, SAM, DANA = ("maria@rh.example", "jordan@rh.example", "sam@rh.example",
                            "dana@rh.example")
START = datetime(2026, 12, 1, 6, tzinfo=UTC)
END = START + timedelta(days=4)


@pytest.fixture
def service(config: AppConfig, repos: Repositories, clock: FixedClock) -> CoverageService:
    engine = RoutingEngine(
        adapters={"leads": BuiltinRouting(channel="leads", routes=repos.routes),
                  "calls": ManualRouting(channel="calls")},
        switches=repos.switches, audit=repos.audit, clock=clock)
    return CoverageService(config=config, repos=repos, clock=clock, engine=engine,
                           notifier=Notifier(outbox=repos.outbox, clock=clock,
                                             channel="#online-sales"))


def keys(repos: Repositories, clock: FixedClock) -> list[str]:
    return [i.key for i in repos.outbox.due(now=clock.now() + timedelta(days=999), limit=999)]


def vacation(days: int = 4, uid: str = "v1") -> Absence:
    return Absence(START, START + timedelta(days=days), AbsenceKind.VACATION, True, "Vacation",
                   (uid,))


def test_calendar_absence_is_planned_then_started_then_ended(
        service: CoverageService, repos: Repositories, clock: FixedClock) -> None:
    repos.tasks.add(Task(id=None, title="Call the Chens", due_at=START + timedelta(days=1),
                         owner_email=MARIA, assignee_email=MARIA))
    assert service.apply_calendar(osc_email=MARIA, absences=[vacation()]) == 1
    [planned] = repos.coverages.list(osc_email=MARIA)
    assert planned.status is CoverageStatus.PLANNED and planned.backup_email == JORDAN
    assert service.tick().heads_up == 1
    assert keys(repos, clock) == ["heads-up:1"]
    assert service.tick().heads_up == 0

    clock.set(START)
    assert service.tick().started == 1
    active = repos.coverages.get(1)
    assert active.status is CoverageStatus.ACTIVE
    assert repos.routes.get(osc_email=MARIA, channel="leads") == JORDAN
    switches = {s.channel: s.status for s in repos.switches.list(coverage_id=1)}
    assert switches == {"leads": SwitchStatus.APPLIED, "calls": SwitchStatus.MANUAL}
    [moved] = repos.tasks.list(assignee_email=JORDAN)
    assert moved.coverage_id == 1
    assert keys(repos, clock) == ["heads-up:1", "brief:1", "brief-dm:1"]

    clock.set(END)
    assert service.tick().ended == 1
    assert repos.coverages.get(1).status is CoverageStatus.RETURNED
    assert repos.routes.get(osc_email=MARIA, channel="leads") is None
    [back] = repos.tasks.list(assignee_email=MARIA)
    assert back.title == "Call the Chens"
    assert {"return:1", "return-dm:1"} <= set(keys(repos, clock))
    assert service.tick() == type(service.tick())()


def test_changed_absence_edits_the_brief_instead_of_posting_again(
        service: CoverageService, repos: Repositories, clock: FixedClock) -> None:
    service.apply_calendar(osc_email=MARIA, absences=[vacation()])
    clock.set(START)
    service.tick()
    brief = repos.outbox.get("brief:1")
    assert brief is not None
    repos.outbox.save(dataclasses.replace(brief, status=OutboxStatus.SENT))
    service.apply_calendar(osc_email=MARIA, absences=[vacation(days=6)])
    assert repos.coverages.get(1).end == START + timedelta(days=6)
    [revision] = [k for k in keys(repos, clock) if k.startswith("brief:1:rev:")]
    update = repos.outbox.get(revision)
    assert update is not None and update.target_kind == "update" and update.target == "brief:1"
    service.apply_calendar(osc_email=MARIA, absences=[vacation(days=6)])
    assert [k for k in keys(repos, clock) if k.startswith("brief:1")] == [revision]


def test_removed_absence_cancels_a_planned_coverage_but_not_a_manual_one(
        service: CoverageService, repos: Repositories) -> None:
    service.apply_calendar(osc_email=MARIA, absences=[vacation()])
    service.apply_calendar(osc_email=MARIA, absences=[])
    assert repos.coverages.get(1).status is CoverageStatus.CANCELLED
    manual = service.declare(osc_email=MARIA, start=START, end=END, kind=AbsenceKind.LEAVE,
                             actor=MARIA)
    service.apply_calendar(osc_email=MARIA, absences=[])
    assert repos.coverages.get(manual.id or 0).status is CoverageStatus.PLANNED


def test_emergency_declared_by_a_manager_starts_now(
        service: CoverageService, repos: Repositories, clock: FixedClock) -> None:
    coverage = service.declare(osc_email=MARIA, start=START, end=END, kind=AbsenceKind.SICK,
                               actor=DANA, emergency=True, notes="family emergency")
    assert coverage.status is CoverageStatus.ACTIVE and coverage.start == clock.now()
    assert coverage.origin is CoverageOrigin.EMERGENCY and coverage.declared_by == DANA
    assert repos.routes.get(osc_email=MARIA, channel="leads") == JORDAN


def test_only_the_osc_or_a_manager_may_declare(service: CoverageService) -> None:
    with pytest.raises(NotAllowed):
        service.declare(osc_email=MARIA, start=START, end=END, kind=AbsenceKind.VACATION,
                        actor=SAM)


def test_bad_declarations_are_refused_clearly(service: CoverageService) -> None:
    with pytest.raises(InvalidInput, match="end must be after"):
        service.declare(osc_email=MARIA, start=END, end=START, kind=AbsenceKind.VACATION,
                        actor=MARIA)
    with pytest.raises(InvalidInput, match="not an OSC"):
        service.declare(osc_email=JORDAN, start=START, end=END, kind=AbsenceKind.VACATION,
                        actor=DANA)
    with pytest.raises(InvalidInput, match="Priya has not shadowed"):
        service.declare(osc_email=MARIA, start=START, end=END, kind=AbsenceKind.VACATION,
                        actor=MARIA, backup_email="priya@rh.example")
    service.declare(osc_email=MARIA, start=START, end=END, kind=AbsenceKind.VACATION,
                    actor=MARIA)
    with pytest.raises(InvalidInput, match="already has coverage"):
        service.declare(osc_email=MARIA, start=START + timedelta(days=1), end=END,
                        kind=AbsenceKind.VACATION, actor=MARIA)


def test_no_eligible_backup_alerts_the_managers(
        service: CoverageService, repos: Repositories, clock: FixedClock) -> None:
    repos.calendar_sync.save(CalendarSyncState(
        osc_email=SAM, cursor={}, absences=(vacation(),), last_good_at=clock.now()))
    lonely = service.declare(osc_email="alex@rh.example", start=START, end=END,
                             kind=AbsenceKind.VACATION, actor=DANA)
    assert lonely.backup_email is None
    assert [s.reason for s in lonely.skipped] == ["is away during the absence",
                                                  "has not shadowed the OSC yet"]
    alert = repos.outbox.get(f"no-backup:{lonely.id}")
    assert alert is not None
    assert "<@dana@rh.example>" in alert.message.blocks[1].text  # type: ignore[union-attr]
    assert "Sam is away during the absence" in alert.message.blocks[1].text  # type: ignore[union-attr]


def test_im_back_ends_early_and_nothing_running_is_a_clear_error(
        service: CoverageService, repos: Repositories, clock: FixedClock) -> None:
    with pytest.raises(NotFound, match="no coverage running"):
        service.im_back(osc_email=MARIA, actor=MARIA)
    service.declare(osc_email=MARIA, start=START, end=END, kind=AbsenceKind.VACATION,
                    actor=MARIA)
    clock.set(START + timedelta(days=1))
    service.tick()
    back = service.im_back(osc_email=MARIA, actor=MARIA)
    assert back.status is CoverageStatus.RETURNED and back.end == clock.now()
    assert repos.routes.get(osc_email=MARIA, channel="leads") is None


def test_a_long_leave_hands_crm_records_over_and_back_with_brief_and_return_list(
        config: AppConfig, repos: Repositories, clock: FixedClock) -> None:
    crm = InMemoryCrm({MARIA: "u-maria", JORDAN: "u-jordan"})
    crm.add(FakeCrmItem(RecordKind.TASK, "T1", "u-maria", START - timedelta(days=9),
                        due_at=START + timedelta(days=2)))
    crm.add(FakeCrmItem(RecordKind.TASK, "T2", "u-maria", START - timedelta(days=9),
                        due_at=START + timedelta(days=3)))
    engine = RoutingEngine(
        adapters={"leads": CrmRouting(crm=crm, routes=repos.routes, moves=repos.moves,
                                      clock=clock)},
        switches=repos.switches, audit=repos.audit, clock=clock)
    service = CoverageService(config=config, repos=repos, clock=clock, engine=engine,
                              notifier=Notifier(outbox=repos.outbox, clock=clock,
                                                channel="#online-sales"))
    leave = Absence(START, START + timedelta(days=60), AbsenceKind.LEAVE, True,
                    "Parental leave", ("pl",))
    service.apply_calendar(osc_email=MARIA, absences=[leave])
    clock.set(START)
    assert service.tick().started == 1

    assert routing_items(repos, "brief:1") == (
        "✅ Leads → Jordan (fakecrm)", "📇 fakecrm: 2 tasks moved to Jordan")
    clock.set(START + timedelta(days=5))
    crm.add(FakeCrmItem(RecordKind.LEAD, "L1", "u-maria", clock.now()))
    assert service.hand_over_records() == (1, [])
    assert crm.items[(RecordKind.LEAD, "L1")].owner == "u-jordan"
    crm.items[(RecordKind.TASK, "T2")].open = False  # Jordan completed it

    clock.set(START + timedelta(days=60))
    assert service.tick().ended == 1
    assert {i.id: i.owner for i in crm.items.values()} == {
        "T1": "u-maria", "T2": "u-jordan", "L1": "u-maria"}
    assert routing_items(repos, "return-dm:1") == (
        "✅ Every route is back to you.",
        "📇 fakecrm: 1 lead and 1 task back with Maria; "
        "1 task finished while covering (left with whoever did it)")


def routing_items(repos: Repositories, key: str) -> tuple[str, ...]:
    item = repos.outbox.get(key)
    assert item is not None
    [routing] = [b for b in item.message.blocks if isinstance(b, Bullets)
                 and b.title == "Routing"]
    return tuple(plain(i) for i in routing.items)


def quiet_sick_day(config: AppConfig, clock: FixedClock) -> Repositories:
    """A one-day emergency absence that comes and goes with nothing happening."""
    repos = in_memory_repositories()
    ctx = build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                        sources={})
    ctx.coverage.declare(osc_email=MARIA, start=clock.now(), end=clock.now() + timedelta(days=1),
                         kind=AbsenceKind.SICK, actor=MARIA, emergency=True)
    clock.advance(timedelta(days=1))
    ctx.coverage.tick()
    return repos


def test_one_return_list_a_short_channel_note_and_no_empty_sections(
        config: AppConfig, clock: FixedClock) -> None:
    repos = quiet_sick_day(config, clock)
    dm, note = repos.outbox.get("return-dm:1"), repos.outbox.get("return:1")
    brief = repos.outbox.get("brief:1")
    assert dm is not None and note is not None and brief is not None
    # The quiet absence: one line instead of four "None." sections.
    titles = [getattr(b, "title", None) for b in dm.message.blocks]
    assert "New leads to start on your follow-up process" not in titles
    assert any("Nothing waiting for you" in getattr(b, "text", "") for b in dm.message.blocks)
    assert all(b.items for b in dm.message.blocks if isinstance(b, Bullets))
    # The channel gets a note without buttons; the only buttons are in the OSC's DM.
    assert not [b for b in note.message.blocks if isinstance(b, Actions)]
    assert "The return-to-office list went to Maria by DM" in plain(note.message.text)
    assert "Still to do by hand: calls, email." in plain(note.message.text)
    revised = [i for i in repos.outbox.pending(limit=50) if i.key.startswith("brief:1:rev")]
    latest = revised[-1].message if revised else brief.message
    assert not [b for b in latest.blocks if isinstance(b, Actions)]
    assert [b for b in dm.message.blocks if isinstance(b, Actions)]


def test_a_manual_step_nobody_confirmed_is_checked_not_called_put_back(
        config: AppConfig, clock: FixedClock) -> None:
    repos = quiet_sick_day(config, clock)
    lines = routing_items(repos, "return-dm:1")
    calls = next(line for line in lines if line.startswith("❓ Calls"))
    assert calls.startswith("❓ Calls: nobody confirmed it was switched — check where it goes")
    assert not any(line.startswith("↩️ Calls") or "Every route is back" in line
                   for line in lines)
    dm = repos.outbox.get("return-dm:1")
    assert dm is not None
    labels = [b.label for block in dm.message.blocks if isinstance(block, Actions)
              for b in block.buttons]
    assert "Calls checked" in labels


def test_a_backup_picked_by_hand_is_named_as_chosen_in_the_brief(
        config: AppConfig, clock: FixedClock) -> None:
    repos = in_memory_repositories()
    ctx = build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                        sources={})
    coverage = ctx.coverage.declare(
        osc_email=MARIA, start=clock.now(), end=clock.now() + timedelta(days=1),
        kind=AbsenceKind.SICK, actor=DANA, backup_email=SAM, emergency=True)
    assert coverage.backup_chosen_by == DANA
    brief = repos.outbox.get("brief:1")
    assert brief is not None
    fields = dict(brief.message.blocks[1].fields)  # type: ignore[union-attr]
    assert plain(fields["Why this backup"]) == "chosen by Dana"
    assert repos.coverages.get(coverage.id or 0).backup_chosen_by == DANA
