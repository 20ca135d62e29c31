"""Leads with a controlled clock: DM, alert, escalation, contact in time, cadence handover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import AppConfig
from bot.coverage.service import CoverageService
from bot.delivery.notify import Notifier
from bot.errors import InvalidInput, NotAllowed
from bot.fakes.clock import FixedClock
from bot.leads.service import LeadService, NewLead
from bot.model import AbsenceKind, ActivityKind, CreditTo, LeadStatus, TaskStatus
from bot.ports.repositories import Repositories
from bot.routing.engine import RoutingEngine
from routing.builtin import BuiltinRouting

MARIA, ALEX, JORDAN, SAM, DANA = ("maria@rh.example", "alex@rh.example", "jordan@rh.example",
                                  "sam@rh.example", "dana@rh.example")
T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)


@pytest.fixture
def notifier(repos: Repositories, clock: FixedClock) -> Notifier:
    return Notifier(outbox=repos.outbox, clock=clock, channel="#online-sales")


@pytest.fixture
def leads(config: AppConfig, repos: Repositories, clock: FixedClock,
          notifier: Notifier) -> LeadService:
    clock.set(T0)
    return LeadService(config=config, repos=repos, clock=clock, notifier=notifier)


@pytest.fixture
def coverage(config: AppConfig, repos: Repositories, clock: FixedClock,
             notifier: Notifier) -> CoverageService:
    engine = RoutingEngine(adapters={"leads": BuiltinRouting(channel="leads",
                                                             routes=repos.routes)},
                           switches=repos.switches, audit=repos.audit, clock=clock)
    return CoverageService(config=config, repos=repos, clock=clock, engine=engine,
                           notifier=notifier)


def new(external_id: str = "f-1", community: str | None = "Riverside",
        at: datetime = T0) -> NewLead:
    return NewLead(source="website", external_id=external_id, name="Pat Doe",
                   email="pat@example.com", phone="+15125550100", community=community,
                   message="3-bed?", received_at=at)


def test_lead_goes_to_the_owning_osc_with_a_dm(leads: LeadService, repos: Repositories) -> None:
    lead, created = leads.receive(new())
    assert created and lead.assigned_to == MARIA and lead.owner_email == MARIA
    assert lead.assignment_reason == "Maria owns Riverside"
    card = repos.outbox.get(f"lead-card:{lead.id}")
    assert card is not None and card.target == MARIA and card.target_kind == "direct"
    again, created_again = leads.receive(new())
    assert (again.id, created_again) == (lead.id, False)


def test_unknown_community_is_refused(leads: LeadService) -> None:
    with pytest.raises(InvalidInput, match="unknown community"):
        leads.receive(new(community="Atlantis"))


def test_shared_or_missing_community_round_robins(leads: LeadService) -> None:
    owners = [leads.receive(new(f"f-{i}", community=None))[0].owner_email for i in range(4)]
    assert owners == [MARIA, ALEX, MARIA, ALEX]


def test_dm_then_alert_then_escalation(leads: LeadService, repos: Repositories,
                                       clock: FixedClock) -> None:
    lead, _ = leads.receive(new())
    clock.set(T0 + timedelta(minutes=4, seconds=59))
    assert leads.sweep().alerts == 0
    clock.set(T0 + timedelta(minutes=5))
    assert (leads.sweep().alerts, leads.sweep().alerts) == (1, 0)
    alert = repos.outbox.get(f"lead-alert:{lead.id}")
    assert alert is not None and alert.target == "#online-sales"
    assert alert.message.mentions == (MARIA,)
    clock.set(T0 + timedelta(minutes=14, seconds=59))
    assert leads.sweep().escalations == 0
    clock.set(T0 + timedelta(minutes=15))
    assert leads.sweep().escalations == 1
    escalation = repos.outbox.get(f"lead-escalation:{lead.id}")
    assert escalation is not None and DANA in escalation.message.mentions
    assert leads.sweep().escalations == 0


def test_late_sweep_counts_from_the_received_time(leads: LeadService, repos: Repositories,
                                                  clock: FixedClock) -> None:
    leads.receive(new(at=T0 - timedelta(minutes=20)))
    report = leads.sweep()
    assert (report.alerts, report.escalations) == (1, 1)


def test_contact_in_time_means_no_alert(leads: LeadService, repos: Repositories,
                                        clock: FixedClock) -> None:
    lead, _ = leads.receive(new())
    clock.set(T0 + timedelta(minutes=3))
    leads.press(lead_id=lead.id or 0, kind=ActivityKind.CALL, by=MARIA)
    clock.set(T0 + timedelta(hours=1))
    assert leads.sweep().alerts == 0
    stored = repos.leads.get(lead.id or 0)
    assert stored.status is LeadStatus.CONTACTED
    assert stored.first_contact_at == T0 + timedelta(minutes=3)


def test_inbound_note_does_not_stop_the_timer(leads: LeadService, repos: Repositories) -> None:
    lead, _ = leads.receive(new())
    leads.log_activity(lead_id=lead.id or 0, kind=ActivityKind.NOTE, direction="outbound",
                       by=MARIA, at=T0, notes="left message?")
    assert repos.leads.get(lead.id or 0).status is LeadStatus.NEW


def test_only_the_responsible_person_or_a_manager_may_press(leads: LeadService) -> None:
    lead, _ = leads.receive(new())
    with pytest.raises(NotAllowed, match="Maria's"):
        leads.press(lead_id=lead.id or 0, kind=ActivityKind.CALL, by=SAM)
    leads.press(lead_id=lead.id or 0, kind=ActivityKind.CALL, by=DANA)


def test_not_a_lead_stops_alerts(leads: LeadService, clock: FixedClock) -> None:
    lead, _ = leads.receive(new())
    leads.mark_not_a_lead(lead_id=lead.id or 0, by=MARIA)
    clock.set(T0 + timedelta(hours=1))
    assert leads.sweep().alerts == 0


def test_during_coverage_leads_go_to_the_backup_and_credit_follows_the_rule(
        leads: LeadService, coverage: CoverageService, repos: Repositories,
        clock: FixedClock) -> None:
    old, _ = leads.receive(new("f-old"))
    cov = coverage.declare(osc_email=MARIA, start=T0 + timedelta(hours=1),
                           end=T0 + timedelta(days=3), kind=AbsenceKind.VACATION, actor=MARIA)
    clock.set(T0 + timedelta(hours=2))
    coverage.tick()
    fresh, _ = leads.receive(new("f-new", at=clock.now()))
    assert fresh.assigned_to == JORDAN and fresh.owner_email == MARIA
    assert fresh.coverage_id == cov.id
    assert "Jordan covering for Maria" in fresh.assignment_reason
    bonus = leads.set_appointment(lead_id=fresh.id or 0, by=JORDAN, at=clock.now())
    kept = leads.set_appointment(lead_id=old.id or 0, by=JORDAN, at=clock.now())
    assert (bonus.credit_to, bonus.bonus_email) == (CreditTo.BACKUP, JORDAN)
    assert (kept.credit_to, kept.bonus_email, kept.credit_email) == (CreditTo.OSC, None, MARIA)


def test_a_backdated_lead_routed_to_the_backup_during_coverage_earns_the_bonus(
        leads: LeadService, coverage: CoverageService, clock: FixedClock) -> None:
    cov = coverage.declare(osc_email=MARIA, start=T0 + timedelta(hours=1),
                           end=T0 + timedelta(days=3), kind=AbsenceKind.VACATION, actor=MARIA)
    clock.set(T0 + timedelta(hours=2))
    coverage.tick()
    # The web form stamped it before Maria left; it only reached the team during her leave.
    late, _ = leads.receive(new("f-late", at=T0 + timedelta(minutes=59)))
    assert (late.assigned_to, late.coverage_id) == (JORDAN, cov.id)
    appointment = leads.set_appointment(lead_id=late.id or 0, by=JORDAN, at=clock.now())
    assert (appointment.credit_to, appointment.bonus_email, appointment.credit_email) == (
        CreditTo.BACKUP, JORDAN, MARIA)
    assert appointment.coverage_id == cov.id
    assert "Jordan set it while covering for Maria" in appointment.note


@pytest.mark.parametrize("setter", [SAM, DANA], ids=["another colleague", "a manager"])
def test_only_the_covering_backup_earns_the_bonus_on_a_new_lead(
        leads: LeadService, coverage: CoverageService, clock: FixedClock,
        setter: str) -> None:
    coverage.declare(osc_email=MARIA, start=T0 + timedelta(hours=1),
                     end=T0 + timedelta(days=3), kind=AbsenceKind.VACATION, actor=MARIA)
    clock.set(T0 + timedelta(hours=2))
    coverage.tick()
    fresh, _ = leads.receive(new("f-new", at=clock.now()))
    assert fresh.assigned_to == JORDAN
    if setter == SAM:  # the manager hands it to Sam, who then books the visit
        leads.claim(lead_id=fresh.id or 0, by=DANA, assign_to=SAM)
    appointment = leads.set_appointment(lead_id=fresh.id or 0, by=setter, at=clock.now())
    assert (appointment.credit_to, appointment.bonus_email, appointment.credit_email) == (
        CreditTo.OSC, None, MARIA)
    assert (appointment.note, appointment.coverage_id) == ("", None)


def test_long_term_cadence_reminders_go_to_the_backup_then_back_to_the_osc(
        leads: LeadService, coverage: CoverageService, repos: Repositories,
        clock: FixedClock) -> None:
    coverage.declare(osc_email=MARIA, start=T0, end=T0 + timedelta(days=20),
                     kind=AbsenceKind.LEAVE, actor=MARIA)
    fresh, _ = leads.receive(new("f-new"))
    clock.set(T0 + timedelta(minutes=2))
    leads.press(lead_id=fresh.id or 0, kind=ActivityKind.CALL, by=JORDAN)
    [task] = repos.tasks.list(owner_email=MARIA)
    assert task.due_at == T0 + timedelta(minutes=2, hours=24)
    assert task.assignee_email == JORDAN
    clock.set(task.due_at)
    assert leads.remind() == 1 and leads.remind() == 0
    reminder = repos.outbox.get(f"reminder:{task.id}:{task.due_at.isoformat()}")
    assert reminder is not None and reminder.target == JORDAN
    leads.snooze_task(task_id=task.id or 0, by=JORDAN)
    clock.set(T0 + timedelta(days=2))
    coverage.im_back(osc_email=MARIA, actor=MARIA)
    [back] = repos.tasks.list(owner_email=MARIA)
    assert back.assignee_email == MARIA
    assert leads.remind() == 1
    second = repos.outbox.get(f"reminder:{back.id}:{back.due_at.isoformat()}")
    assert second is not None and second.target == MARIA


def test_short_term_new_leads_wait_for_the_osc_to_start_follow_up(
        leads: LeadService, coverage: CoverageService, repos: Repositories,
        clock: FixedClock) -> None:
    cov = coverage.declare(osc_email=MARIA, start=T0, end=T0 + timedelta(days=3),
                           kind=AbsenceKind.VACATION, actor=MARIA)
    fresh, _ = leads.receive(new("f-new"))
    leads.press(lead_id=fresh.id or 0, kind=ActivityKind.CALL, by=JORDAN)
    [task] = repos.tasks.list(owner_email=MARIA)
    assert task.title == "Start Pat Doe on your follow-up process"
    assert (task.due_at, task.assignee_email) == (cov.end, MARIA)


def test_completing_a_follow_up_schedules_the_next_step_then_nurture(
        leads: LeadService, repos: Repositories, clock: FixedClock) -> None:
    lead, _ = leads.receive(new())
    leads.press(lead_id=lead.id or 0, kind=ActivityKind.CALL, by=MARIA)
    titles = []
    for _ in range(4):
        [task] = repos.tasks.list(owner_email=MARIA, status=TaskStatus.OPEN)
        titles.append((task.title, task.due_at - T0))
        clock.set(task.due_at)
        leads.complete_task(task_id=task.id or 0, by=MARIA)
        leads.complete_task(task_id=task.id or 0, by=MARIA)
    assert titles == [("Follow up with Pat Doe (first follow-up)", timedelta(hours=24)),
                      ("Follow up with Pat Doe (second follow-up)", timedelta(days=3)),
                      ("Follow up with Pat Doe (third follow-up)", timedelta(days=7)),
                      ("Nurture check-in with Pat Doe", timedelta(days=97))]
    assert len(repos.tasks.list(owner_email=MARIA, status=TaskStatus.OPEN)) == 1


def test_protection_warns_a_day_before_then_records_the_lapse_once(
        leads: LeadService, repos: Repositories, clock: FixedClock) -> None:
    lead, _ = leads.receive(new())
    leads.log_activity(lead_id=lead.id or 0, kind=ActivityKind.EMAIL, direction="inbound",
                       by=MARIA, at=T0, two_way=True, notes="replied")
    clock.set(T0 + timedelta(days=5, hours=23))
    assert leads.protect() == 0
    clock.set(T0 + timedelta(days=6))
    assert (leads.protect(), leads.protect()) == (1, 0)
    warning = repos.outbox.get(f"protection-warning:{lead.id}:{T0.isoformat()}")
    assert warning is not None and warning.target == MARIA
    clock.set(T0 + timedelta(days=7))
    assert (leads.protect(), leads.protect()) == (1, 0)
    lapsed = repos.leads.get(lead.id or 0)
    assert lapsed.protection_lapsed_at == T0 + timedelta(days=7)
    assert [e.action for e in repos.audit.list(subject=f"lead:{lead.id}")][-1] == (
        "lead.protection_lapsed")
    leads.log_activity(lead_id=lead.id or 0, kind=ActivityKind.CALL, direction="outbound",
                       by=MARIA, at=clock.now(), two_way=True)
    renewed = repos.leads.get(lead.id or 0)
    assert renewed.protection_lapsed_at is None and renewed.last_two_way_at == clock.now()


def test_obvious_non_lead_is_pointed_out_in_the_card(leads: LeadService,
                                                     repos: Repositories) -> None:
    job_seeker = NewLead(source="website", external_id="js", name="Student",
                         email="s@example.com", phone=None, community="Riverside",
                         message="Do you offer internships?", received_at=T0)
    lead, _ = leads.receive(job_seeker)
    card = repos.outbox.get(f"lead-card:{lead.id}")
    assert card is not None and "looks like a job seeker" in str(card.message.blocks)


def test_lead_messages_are_edited_once_someone_makes_contact(
        config: AppConfig, repos: Repositories, clock: FixedClock) -> None:
    from bot.delivery.deliverer import OutboxDelivery
    from bot.fakes.chat import RecordingChat
    from bot.messages import Actions, plain

    clock.set(T0)
    chat = RecordingChat()
    service = LeadService(config=config, repos=repos, clock=clock,
                          notifier=Notifier(outbox=repos.outbox, clock=clock,
                                            channel="#online-sales"))
    delivery = OutboxDelivery(outbox=repos.outbox, chat=chat, clock=clock,
                              per_channel_interval=timedelta(0))
    lead, _ = service.receive(NewLead("web", "e1", "Pat", "pat@example.com", None, "Riverside",
                                      "Hi", T0))
    clock.advance(timedelta(minutes=6))
    service.sweep()
    delivery.deliver_due(clock.now())
    clock.advance(timedelta(minutes=2))
    service.press(lead_id=lead.id or 0, kind=ActivityKind.CALL, by="maria@rh.example")
    delivery.deliver_due(clock.now())
    edits = [m for m in chat.transcript if m.kind == "update"]
    # The DM card and the channel alert, both edited, neither with buttons left.
    assert sorted(m.target for m in edits) == ["#online-sales", "dm:maria@rh.example"]
    for edit in edits:
        assert plain(edit.message.text).endswith(": Pat — ✅ Called by Maria at 10:08 AM.")
        assert not [b for b in edit.message.blocks if isinstance(b, Actions)]
