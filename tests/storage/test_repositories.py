"""The repository contract, the same on in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from bot.errors import NotFound
from bot.messages import Header, Message
from bot.model import (
    Absence,
    AbsenceKind,
    Activity,
    ActivityKind,
    Appointment,
    AuditEntry,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
    CreditTo,
    Lead,
    LeadStatus,
    SkippedBackup,
    Task,
    TaskStatus,
)
from bot.ports.calendars import CalendarSyncState
from bot.ports.chat import MessageRef
from bot.ports.delivery import OutboxItem, OutboxStatus
from bot.ports.repositories import Repositories
from bot.ports.routing import MoveStatus, RecordKind, RecordMove, RoutingSwitch, SwitchStatus

T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)
CHICAGO = timezone(timedelta(hours=-6))


def a_coverage(**changes: object) -> Coverage:
    base = Coverage(
        id=None, osc_email="maria@rh.example", start=T0, end=T0 + timedelta(days=4),
        kind=AbsenceKind.VACATION, mode=CoverageMode.SHORT_TERM,
        origin=CoverageOrigin.CALENDAR, status=CoverageStatus.PLANNED,
        backup_email="sam@rh.example",
        skipped=(SkippedBackup("jordan@rh.example", "is away during the absence"),),
        source_uids=("u1", "u2"), notes="Cabo")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def a_lead(external_id: str = "f-1", **changes: object) -> Lead:
    base = Lead(id=None, source="website", external_id=external_id, name="Pat Doe",
                email="pat@example.com", phone="+15125550100", community="Riverside",
                message="3-bed?", received_at=T0, owner_email="maria@rh.example",
                assigned_to="maria@rh.example", assignment_reason="owns Riverside")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_coverage_round_trip_filters_and_not_found(repos: Repositories) -> None:
    stored = repos.coverages.add(a_coverage())
    assert stored.id is not None
    assert repos.coverages.get(stored.id) == stored
    active = repos.coverages.save(dataclasses.replace(
        stored, status=CoverageStatus.ACTIVE, started_at=T0))
    assert repos.coverages.get(stored.id).status is CoverageStatus.ACTIVE
    later = repos.coverages.add(a_coverage(start=T0 + timedelta(days=9),
                                           end=T0 + timedelta(days=10), osc_email="alex@rh"))
    assert repos.coverages.list() == [active, later]
    assert repos.coverages.list(osc_email="alex@rh") == [later]
    assert repos.coverages.list(backup_email="sam@rh.example") == [active, later]
    assert repos.coverages.list(statuses=[CoverageStatus.PLANNED]) == [later]
    with pytest.raises(NotFound):
        repos.coverages.get(999)
    with pytest.raises(NotFound):
        repos.coverages.save(a_coverage(id=999))


def test_datetimes_come_back_aware_and_equal(
        backend: tuple[str, Repositories, Engine | None], repos: Repositories) -> None:
    local = datetime(2026, 11, 30, 10, tzinfo=CHICAGO)
    stored = repos.coverages.add(a_coverage(start=local, end=local + timedelta(hours=5)))
    loaded = repos.coverages.get(stored.id or 0)
    assert loaded.start == local and loaded.start.tzinfo is not None
    if backend[0] != "memory":
        assert loaded.start.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused_by_the_database(
        backend: tuple[str, Repositories, Engine | None], repos: Repositories) -> None:
    if backend[0] == "memory":
        pytest.skip("the in-memory fake stores whatever it is given")
    with pytest.raises(Exception, match="naive datetime"):
        repos.coverages.add(a_coverage(start=datetime(2026, 11, 30, 10)))


def test_lead_add_is_idempotent_and_filters(repos: Repositories) -> None:
    first, created = repos.leads.add(a_lead())
    again, created_again = repos.leads.add(a_lead(name="Someone else"))
    assert created and not created_again and again == first
    second, _ = repos.leads.add(a_lead("f-2", received_at=T0 + timedelta(minutes=10),
                                       assigned_to="jordan@rh.example"))
    assert repos.leads.list(assigned_to="jordan@rh.example") == [second]
    assert repos.leads.list(received_from=T0 + timedelta(minutes=1)) == [second]
    assert repos.leads.list(received_to=T0 + timedelta(minutes=1)) == [first]
    assert repos.leads.count_open(assigned_to="maria@rh.example") == 1
    assert repos.leads.uncontacted(received_before=T0) == [first]
    contacted = repos.leads.save(dataclasses.replace(
        first, status=LeadStatus.CONTACTED, first_contact_at=T0 + timedelta(minutes=3)))
    assert repos.leads.get(first.id or 0) == contacted
    assert repos.leads.uncontacted(received_before=T0 + timedelta(hours=1)) == [second]
    assert repos.leads.uncontacted(received_before=T0 + timedelta(hours=1), limit=0) == []
    with pytest.raises(NotFound):
        repos.leads.get(999)


def test_racing_duplicate_leads_store_one(backend: tuple[str, Repositories, Engine | None],
                                          repos: Repositories) -> None:
    results: list[tuple[Lead, bool]] = []
    barrier = threading.Barrier(4)

    def add() -> None:
        barrier.wait()
        results.append(repos.leads.add(a_lead("race")))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(created for _, created in results) == 1
    assert len({lead.id for lead, _ in results}) == 1
    assert len(repos.leads.list()) == 1


def test_activities_tasks_and_appointments(repos: Repositories) -> None:
    lead, _ = repos.leads.add(a_lead())
    assert lead.id is not None
    coverage = repos.coverages.add(a_coverage())
    later = repos.activities.add(Activity(None, lead.id, ActivityKind.CALL, "outbound",
                                          "maria@rh.example", T0 + timedelta(minutes=5), True,
                                          "connected"))
    early = repos.activities.add(Activity(None, lead.id, ActivityKind.NOTE, "outbound",
                                          "maria@rh.example", T0, False, "note"))
    assert repos.activities.for_lead(lead.id) == [early, later]
    task = repos.tasks.add(Task(None, "Call back", T0 + timedelta(days=1), "maria@rh.example",
                                "sam@rh.example", lead.id, coverage_id=coverage.id,
                                created_by="sam@rh.example"))
    assert repos.tasks.get(task.id or 0) == task
    assert repos.tasks.list(assignee_email="sam@rh.example", status=TaskStatus.OPEN,
                            due_before=T0 + timedelta(days=2),
                            coverage_id=coverage.id) == [task]
    assert repos.tasks.list(due_from=T0 + timedelta(days=2)) == []
    done = repos.tasks.save(dataclasses.replace(task, status=TaskStatus.DONE))
    assert repos.tasks.list(owner_email="maria@rh.example") == [done]
    appointment = repos.appointments.add(Appointment(
        None, lead.id, "sam@rh.example", T0, "maria@rh.example", CreditTo.BACKUP,
        "sam@rh.example", "note", coverage.id))
    assert repos.appointments.list(lead_id=lead.id) == [appointment]
    assert repos.appointments.list(coverage_id=coverage.id) == [appointment]


def test_routing_switch_upsert_and_audit(repos: Repositories) -> None:
    coverage = repos.coverages.add(a_coverage())
    assert coverage.id is not None
    assert repos.switches.get(coverage_id=coverage.id, channel="leads") is None
    pending = repos.switches.save(RoutingSwitch(
        None, coverage.id, "leads", "builtin", SwitchStatus.PENDING,
        {"channel": "leads", "target": "maria", "details": {}}, None, 0, "", T0, "t", "r"))
    applied = repos.switches.save(dataclasses.replace(
        pending, id=None, status=SwitchStatus.APPLIED,
        after={"channel": "leads", "target": "sam", "details": {}}))
    assert applied.id == pending.id
    assert repos.switches.list(coverage_id=coverage.id) == [applied]
    repos.audit.record(AuditEntry(T0, "t", "routing.applied", "coverage:1:leads", "r",
                                  {"a": 1}, {"b": 2}))
    repos.audit.record(AuditEntry(T0, "t", "other", "lead:1"))
    assert [e.action for e in repos.audit.list()] == ["routing.applied", "other"]
    assert repos.audit.list(subject="lead:1")[0].before is None


def test_outbox_is_idempotent_and_due_in_order(repos: Repositories) -> None:
    message = Message(text="hi", blocks=(Header("Hello"),), mentions=("a@b.c",))
    first, created = repos.outbox.enqueue(OutboxItem(None, "brief:1", "channel", "#sales",
                                                     message, OutboxStatus.PENDING, T0))
    again, created_again = repos.outbox.enqueue(OutboxItem(
        None, "brief:1", "channel", "#sales", Message("other"), OutboxStatus.PENDING, T0))
    assert created and not created_again and again == first
    assert first.message == message
    later, _ = repos.outbox.enqueue(OutboxItem(
        None, "dm:1", "direct", "a@b.c", message, OutboxStatus.PENDING, T0,
        next_attempt_at=T0 + timedelta(seconds=30)))
    assert repos.outbox.due(now=T0) == [first]
    assert repos.outbox.pending() == [first, later]
    assert repos.outbox.due(now=T0 + timedelta(seconds=30)) == [first, later]
    sent = repos.outbox.save(dataclasses.replace(first, status=OutboxStatus.SENT,
                                                 ref=MessageRef("C1", "123.4"), sent_at=T0,
                                                 attempts=1))
    assert repos.outbox.get("brief:1") == sent
    assert repos.outbox.due(now=T0 + timedelta(days=1)) == [later]
    assert repos.outbox.get("missing") is None


def test_calendar_sync_state_replace_and_routes(repos: Repositories) -> None:
    absence = Absence(T0, T0 + timedelta(days=1), AbsenceKind.DAY_OFF, True, "Day off",
                      ("u1",))
    state = CalendarSyncState("maria@rh.example", {"etag": '"abc"'}, (absence,), T0)
    repos.calendar_sync.save(state)
    assert repos.calendar_sync.get("maria@rh.example") == state
    failing = dataclasses.replace(state, consecutive_failures=2, stale=True, last_error="504",
                                  event_count=12, suspect_since=T0 + timedelta(hours=1))
    repos.calendar_sync.save(failing)
    assert repos.calendar_sync.get("maria@rh.example") == failing
    assert repos.calendar_sync.get("nobody") is None
    assert repos.calendar_sync.get_many(["nobody", "maria@rh.example"]) == {
        "maria@rh.example": failing}
    assert repos.routes.get(osc_email="maria", channel="leads") is None
    repos.routes.set(osc_email="maria", channel="leads", target="sam")
    repos.routes.set(osc_email="maria", channel="leads", target="jordan")
    assert repos.routes.get(osc_email="maria", channel="leads") == "jordan"
    repos.routes.set(osc_email="maria", channel="leads", target=None)
    assert repos.routes.get(osc_email="maria", channel="leads") is None


def test_record_moves_are_unique_per_coverage_and_record(repos: Repositories) -> None:
    coverage = repos.coverages.add(a_coverage())
    other = repos.coverages.add(a_coverage(start=T0 + timedelta(days=30),
                                           end=T0 + timedelta(days=40)))
    assert coverage.id is not None and other.id is not None
    move = RecordMove(id=None, coverage_id=coverage.id, osc_email="maria@rh.example",
                      crm="hubspot", kind=RecordKind.LEAD, record_id="501", before="11",
                      after="22", status=MoveStatus.PENDING, at=T0)
    stored, created = repos.moves.add(move)
    assert created and stored.id is not None
    again, created_again = repos.moves.add(dataclasses.replace(move, before="changed"))
    assert (again, created_again) == (stored, False)
    task, _ = repos.moves.add(dataclasses.replace(move, kind=RecordKind.TASK))
    later, _ = repos.moves.add(dataclasses.replace(move, coverage_id=other.id))
    moved = repos.moves.save(dataclasses.replace(stored, status=MoveStatus.MOVED,
                                                 at=T0.astimezone(CHICAGO), note="ok"))
    assert moved.at == T0
    assert repos.moves.list(coverage_id=coverage.id) == [moved, task]
    assert repos.moves.list(osc_email="maria@rh.example", crm="hubspot",
                            statuses=(MoveStatus.PENDING,)) == [task, later]
    assert repos.moves.list(crm="salesforce") == []


def test_protection_query_finds_leads_whose_two_way_contact_is_old(repos: Repositories) -> None:
    old, _ = repos.leads.add(a_lead("old", last_two_way_at=T0))
    repos.leads.add(a_lead("fresh", last_two_way_at=T0 + timedelta(days=5)))
    repos.leads.add(a_lead("lapsed", last_two_way_at=T0, protection_lapsed_at=T0))
    repos.leads.add(a_lead("never"))
    assert repos.leads.two_way_before(before=T0 + timedelta(days=1)) == [old]


def test_due_leads_page_by_time_then_id_without_losing_ties(repos: Repositories) -> None:
    for n in range(7):
        repos.leads.add(a_lead(f"p-{n}", received_at=T0 + timedelta(minutes=n // 3),
                               last_two_way_at=T0 + timedelta(minutes=n // 2)))
    seen: list[int] = []
    after = None
    while page := repos.leads.uncontacted(received_before=T0 + timedelta(hours=1),
                                          after=after, limit=2):
        seen += [lead.id or 0 for lead in page]
        after = (page[-1].received_at, page[-1].id or 0)
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7
    protected: list[int] = []
    after = None
    while page := repos.leads.two_way_before(before=T0 + timedelta(hours=1), after=after,
                                             limit=3):
        protected += [lead.id or 0 for lead in page]
        last = page[-1]
        assert last.last_two_way_at is not None
        after = (last.last_two_way_at, last.id or 0)
    assert sorted(protected) == sorted(seen)


def test_an_activity_with_an_external_id_is_stored_once(repos: Repositories) -> None:
    lead, _ = repos.leads.add(a_lead())
    assert lead.id is not None
    call = Activity(id=None, lead_id=lead.id, kind=ActivityKind.CALL, direction="outbound",
                    by_email="maria@rh.example", at=T0, external_id="crm-1")
    first, created = repos.activities.add_once(call)
    again, created_again = repos.activities.add_once(dataclasses.replace(call, notes="x"))
    assert (created, created_again, again.id) == (True, False, first.id)
    assert first.external_id == "crm-1"
    assert repos.activities.add_once(dataclasses.replace(call, external_id=None))[1]
    assert repos.activities.add_once(dataclasses.replace(call, external_id=None))[1]
    assert len(repos.activities.for_lead(lead.id)) == 3
