"""Lead use cases: receive, route, chase until contacted, log contacts and appointments."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bot.config.model import AppConfig, PersonConfig
from bot.coverage.backups import ineligibility, recorded_away
from bot.delivery.notify import Notifier
from bot.errors import InvalidInput, NotAllowed
from bot.jobs.isolation import ItemGuard, paged
from bot.leads import cadence
from bot.leads.alerts import escalation, handled, lead_card, uncontacted_alert
from bot.leads.credit import credit_for_appointment
from bot.leads.upkeep import LeadUpkeep
from bot.model import (
    Activity,
    ActivityKind,
    Appointment,
    AuditEntry,
    Coverage,
    CoverageMode,
    CoverageStatus,
    Lead,
    LeadStatus,
    Task,
    TaskStatus,
)
from bot.ports.clock import Clock
from bot.ports.records import LeadPosition, Page
from bot.ports.repositories import Repositories
from bot.team.names import name_of, named
from bot.timefmt import clock_time

SNOOZE = timedelta(hours=1)
# How a handled lead's messages say what was done.
_DONE = {ActivityKind.CALL: "Called", ActivityKind.EMAIL: "Emailed",
         ActivityKind.TEXT: "Texted", ActivityKind.APPOINTMENT: "Appointment set"}


@dataclass(frozen=True)
class NewLead:
    """A lead as it arrives, before routing."""

    source: str
    external_id: str
    name: str
    email: str | None
    phone: str | None
    community: str | None
    message: str
    received_at: datetime


@dataclass(frozen=True)
class SweepReport:
    """What one speed-to-lead sweep raised."""

    alerts: int = 0
    escalations: int = 0


class LeadService:
    """Puts every lead in front of whoever is responsible now and chases it."""

    def __init__(self, *, config: AppConfig, repos: Repositories, clock: Clock,
                 notifier: Notifier) -> None:
        self.config = config
        self.repos = repos
        self.clock = clock
        self.notifier = notifier
        self.guard = ItemGuard(audit=repos.audit, notifier=notifier, clock=clock,
                               managers=config.team.managers)
        self.upkeep = LeadUpkeep(config=config, repos=repos, clock=clock, notifier=notifier,
                                 guard=self.guard, audit=self._audit)
        # Read once (the configuration is frozen): every lead is routed through them.
        self._oscs = config.oscs
        self._communities = config.communities()

    def owner_for(self, community: str | None) -> tuple[PersonConfig, str]:
        """The OSC who owns a community (round-robin when several share it), with why."""
        if community is not None and community not in self._communities:
            raise InvalidInput(f"unknown community or store {community!r}", field="community")
        candidates = [p for p in self._oscs
                      if (community is None or community in p.communities) and p.opt_in_new_leads]
        if not candidates:
            candidates = list(self._oscs)
        if len(candidates) == 1:
            return candidates[0], f"{candidates[0].name} owns {community or 'online leads'}"
        counts = {p.email: self.repos.leads.count_owned(owner_email=p.email)
                  for p in candidates}
        chosen = min(candidates, key=lambda p: (counts[p.email], candidates.index(p)))
        return chosen, f"round-robin across {len(candidates)} OSCs for {community or 'all'}"

    def get(self, lead_id: int) -> Lead:
        """One lead; NotFound when there is none with this id."""
        return self.repos.leads.get(lead_id)

    def lead_page(self, *, limit: int, assigned_to: str | None = None,
                  status: LeadStatus | None = None) -> Page[Lead]:
        """The newest `limit` leads held by a person (everyone's when None), and the total."""
        return self.repos.leads.page(assigned_to=assigned_to, status=status, limit=limit)

    def task_page(self, *, limit: int, assignee_email: str | None = None,
                  due_from: datetime | None = None,
                  due_before: datetime | None = None) -> Page[Task]:
        """The first `limit` open tasks by due time (a person's, or everyone's when None),
        due in `[due_from, due_before)`, and the total."""
        return self.repos.tasks.page(assignee_email=assignee_email, status=TaskStatus.OPEN,
                                     due_from=due_from, due_before=due_before, limit=limit)

    def open_tasks(self, *, owner_email: str) -> list[Task]:
        """Every open task an OSC owns (whoever works it now), by due time."""
        return self.repos.tasks.list(owner_email=owner_email, status=TaskStatus.OPEN)

    def owned(self, owner_email: str) -> list[Lead]:
        """Every lead an OSC owns, by received time."""
        return self.repos.leads.list(owner_email=owner_email)

    def active_coverage(self, osc_email: str, at: datetime) -> Coverage | None:
        """The coverage running for this OSC at the instant, if any."""
        for c in self.repos.coverages.list(osc_email=osc_email,
                                           statuses=(CoverageStatus.ACTIVE,)):
            if c.covers(at) or c.start <= at:
                return c
        return None

    def responsible_for(self, osc_email: str, at: datetime) -> tuple[str, Coverage | None]:
        """Who answers this OSC's leads now: a routed-to person, the active backup, or the OSC."""
        coverage = self.active_coverage(osc_email, at)
        routed = self.repos.routes.get(osc_email=osc_email, channel="leads")
        if routed:
            return routed, coverage
        if coverage is not None and coverage.backup_email:
            return coverage.backup_email, coverage
        return osc_email, None

    def receive(self, new: NewLead) -> tuple[Lead, bool]:
        """Store and route a lead (idempotent on source + external id) and DM the card."""
        if not (new.email or new.phone):
            raise InvalidInput("a lead needs an email or a phone number", field="email")
        now = self.clock.now()
        # The lead, its audit row and its DM commit together: an accepted lead is never
        # stored without the DM that announces it. The routing reads join the same
        # transaction: one connection per lead, and a coverage that starts or ends
        # meanwhile cannot route a lead to someone no longer responsible.
        with self.repos.tx.atomic():
            owner, why = self.owner_for(new.community)
            assigned, coverage = self.responsible_for(owner.email, now)
            if coverage is not None:
                why += f"; {name_of(self.config, assigned)} covering for {owner.name}"
            lead, created = self.repos.leads.add(Lead(
                id=None, source=new.source, external_id=new.external_id, name=new.name,
                email=new.email, phone=new.phone, community=new.community,
                message=new.message, received_at=new.received_at, owner_email=owner.email,
                assigned_to=assigned, assignment_reason=why,
                coverage_id=coverage.id if coverage else None))
            if created:
                self._audit(lead, "lead.received", actor="intake", reason=why)
                self.notifier.direct(
                    key=f"lead-card:{lead.id}", email=assigned, message=lead_card(
                        lead, config=self.config, zone=self.config.zone_of(assigned),
                        covering_for=owner.email if coverage else None))
        return lead, created

    def log_activity(self, *, lead_id: int, kind: ActivityKind, direction: str, by: str,
                     at: datetime, two_way: bool = False, notes: str = "") -> Activity:
        """Record a contact or note; an outbound or two-way contact stops the timer."""
        return self.record_activity(lead_id=lead_id, kind=kind, direction=direction, by=by,
                                    at=at, two_way=two_way, notes=notes)[0]

    def record_activity(self, *, lead_id: int, kind: ActivityKind, direction: str, by: str,
                        at: datetime, two_way: bool = False, notes: str = "",
                        external_id: str | None = None) -> tuple[Activity, bool]:
        """Like `log_activity`, idempotent on the sender's `external_id`: (activity, created)."""
        # One transaction: a connection lost after the activity was stored must not leave
        # the lead uncontacted, since the sender's retry finds the activity and stops.
        with self.repos.tx.atomic():
            lead = self.repos.leads.get(lead_id)
            activity, created = self.repos.activities.add_once(Activity(
                id=None, lead_id=lead_id, kind=kind, direction=direction,
                by_email=by.lower(), at=at, two_way=two_way, notes=notes,
                external_id=external_id))
            if not created:
                return activity, False
            if activity.is_contact and lead.status is LeadStatus.NEW:
                lead = self.repos.leads.save(dataclasses.replace(
                    lead, status=LeadStatus.CONTACTED, first_contact_at=at))
                self._schedule_follow_up(lead, by=by.lower(), after=at)
                self._show_handled(lead, f"✅ {_DONE.get(kind, 'Contacted')} by "
                                         f"{named(self.config, by)}", at)
            if two_way and (lead.last_two_way_at is None or at > lead.last_two_way_at):
                lead = self.repos.leads.save(dataclasses.replace(
                    lead, last_two_way_at=at, protection_lapsed_at=None))
            return activity, True

    def press(self, *, lead_id: int, kind: ActivityKind, by: str) -> Activity:
        """A contact button pressed in chat by the responsible person or a manager."""
        self._allowed(self.repos.leads.get(lead_id), by)
        return self.log_activity(lead_id=lead_id, kind=kind, direction="outbound", by=by,
                                 at=self.clock.now())

    def set_appointment(self, *, lead_id: int, by: str, at: datetime,
                        note: str = "") -> Appointment:
        """Record an appointment with credit decided by the coverage rule."""
        lead = self.repos.leads.get(lead_id)
        self._allowed(lead, by)
        coverage = self.active_coverage(lead.owner_email, at)
        names = {p.email: p.name for p in self.config.people}
        credit = credit_for_appointment(lead=lead, set_by=by.lower(), coverage=coverage,
                                        names=names)
        self.log_activity(lead_id=lead_id, kind=ActivityKind.APPOINTMENT, direction="outbound",
                          by=by, at=self.clock.now(), two_way=True, notes=note)
        return self.repos.appointments.add(Appointment(
            id=None, lead_id=lead_id, set_by=by.lower(), at=at,
            credit_email=credit.credit_email, credit_to=credit.credit_to,
            bonus_email=credit.bonus_email, note=credit.note,
            coverage_id=coverage.id if coverage and credit.note else None))

    def mark_not_a_lead(self, *, lead_id: int, by: str) -> Lead:
        """Take a job seeker, vendor or spam out of the speed-to-lead chase."""
        lead = self.repos.leads.get(lead_id)
        self._allowed(lead, by)
        saved = self.repos.leads.save(dataclasses.replace(lead, status=LeadStatus.NOT_A_LEAD))
        self._audit(saved, "lead.not_a_lead", actor=by.lower(), reason="marked not a lead")
        self._show_handled(saved, f"🚫 Not a lead, said {named(self.config, by)}",
                           self.clock.now())
        return saved

    def _show_handled(self, lead: Lead, status: str, at: datetime) -> None:
        """Edit the lead's DM card and channel alerts so a handled lead no longer looks
        open ("✅ Called by Jordan at 1:32 PM"), each in its reader's time zone."""
        for key, zone, channel in (
                (f"lead-card:{lead.id}", self.config.zone_of(lead.assigned_to), False),
                (f"lead-alert:{lead.id}", self.config.team.timezone, True),
                (f"lead-escalation:{lead.id}", self.config.team.timezone, True)):
            if self.notifier.exists(key):
                self.notifier.revise(key=key, message=handled(
                    lead, status=f"{status} at {clock_time(at, zone)}", zone=zone,
                    channel=channel))

    def claim(self, *, lead_id: int, by: str, assign_to: str | None = None) -> Lead:
        """Take an uncontacted lead from an alert: someone who could cover for its OSC
        (trained, shadowed, not away, with room) or the OSC themselves; a manager may take
        it or give it to anyone on the team (their explicit choice)."""
        lead = self.repos.leads.get(lead_id)
        who = by.lower()
        person = self.config.find_person(who)
        if person is None:
            raise NotAllowed("only people on the team can claim leads")
        target = (assign_to or who).lower()
        if self.config.is_manager(who):
            if self.config.find_person(target) is None:
                raise InvalidInput(f"{target} is not on the team", field="assign_to")
            why = f"claimed by {who}" if target == who else f"assigned by manager {who}"
        elif target != who:
            raise NotAllowed("only a manager can give a lead to someone else")
        else:
            problem = self._cannot_take(person, lead)
            if problem:
                raise NotAllowed(f"You can't take this lead ({problem}). "
                                 "A manager can assign it to you.")
            why = f"claimed by {who}"
        saved = self.repos.leads.save(dataclasses.replace(
            lead, assigned_to=target, assignment_reason=why))
        self._audit(saved, "lead.claimed", actor=who, reason=why)
        return saved

    def _cannot_take(self, person: PersonConfig, lead: Lead) -> str | None:
        """Why this person may not claim the lead themselves (coverage's own rule)."""
        now = self.clock.now()
        soon = now + timedelta(minutes=1)
        if person.email == lead.owner_email:
            away = recorded_away(self.repos, person.email, now, soon)
            return "you are away" if away else None
        return ineligibility(
            candidate=person, osc_email=lead.owner_email, start=now, end=soon,
            is_away=lambda email, start, end: recorded_away(self.repos, email, start, end),
            open_leads={person.email: self.repos.leads.count_open(assigned_to=person.email)})

    def rate(self, *, lead_id: int, by: str, rating: str, notes: str = "") -> Lead:
        """Set a lead's rating (hot, warm, cold) with an optional note."""
        lead = self.repos.leads.get(lead_id)
        self._allowed(lead, by)
        self.log_activity(lead_id=lead_id, kind=ActivityKind.RATING, direction="outbound",
                          by=by, at=self.clock.now(), notes=notes)
        return self.repos.leads.save(dataclasses.replace(lead, rating=rating))

    def sweep(self) -> SweepReport:
        """Alert on leads past the speed-to-lead window; escalate those past `escalate_after`.

        Pages through every lead due, however many; a lead that cannot be alerted on is
        skipped and reported once (see `ItemGuard`)."""
        now = self.clock.now()
        due = now - self.config.policies.speed_to_lead
        alerts = escalations = 0
        for lead in paged(lambda after: self.repos.leads.uncontacted(
                received_before=due, after=after), _received_position):
            raised = self.guard.run("sweep_leads", f"lead:{lead.id}",
                                    partial(self._chase, lead, now))
            if raised is not None:
                alerts += raised[0]
                escalations += raised[1]
        return SweepReport(alerts, escalations)

    def _chase(self, lead: Lead, now: datetime) -> tuple[bool, bool]:
        """Queue a lead's channel alert and, once overdue, its escalation: (alerted, escalated)."""
        zone = self.config.team.timezone
        escalating = now - lead.received_at >= self.config.policies.escalate_after
        if self.notifier.exists(f"lead-alert:{lead.id}") and (
                not escalating or self.notifier.exists(f"lead-escalation:{lead.id}")):
            return False, False  # already raised: nothing to render again
        with self.repos.tx.atomic():
            alerted = self.notifier.post(key=f"lead-alert:{lead.id}", message=uncontacted_alert(
                lead, config=self.config, zone=zone, now=now))
            escalated = escalating and self.notifier.post(
                key=f"lead-escalation:{lead.id}",
                message=escalation(lead, config=self.config, zone=zone, now=now))
        return alerted, escalated

    def remind(self) -> int:
        """DM each assignee the tasks that have come due (see `LeadUpkeep.remind`)."""
        return self.upkeep.remind()

    def protect(self) -> int:
        """Warn owners before credit protection lapses (see `LeadUpkeep.protect`)."""
        return self.upkeep.protect()

    def complete_task(self, *, task_id: int, by: str) -> Task:
        """Mark a reminder done; a cadence step schedules the next one."""
        task = self.repos.tasks.get(task_id)
        self._allowed_task(task, by)
        if task.status is TaskStatus.DONE:
            return task
        done = self.repos.tasks.save(dataclasses.replace(task, status=TaskStatus.DONE))
        if task.cadence_step is not None and task.lead_id is not None:
            lead = self.repos.leads.get(task.lead_id)
            if lead.status is LeadStatus.CONTACTED and lead.first_contact_at is not None:
                step = task.cadence_step + 1
                self.add_task(
                    title=cadence.title_for(step, lead_name=lead.name,
                                            policies=self.config.policies),
                    due_at=cadence.next_due(task.cadence_step,
                                            first_contact_at=lead.first_contact_at,
                                            done_at=self.clock.now(),
                                            policies=self.config.policies),
                    owner=lead.owner_email, by=by, lead_id=lead.id, cadence_step=step)
        return done

    def snooze_task(self, *, task_id: int, by: str) -> Task:
        """Push a reminder back an hour."""
        task = self.repos.tasks.get(task_id)
        self._allowed_task(task, by)
        return self.repos.tasks.save(dataclasses.replace(task, due_at=self.clock.now() + SNOOZE))

    def add_task(self, *, title: str, due_at: datetime, owner: str, by: str,
                 lead_id: int | None = None, cadence_step: int | None = None) -> Task:
        """A future task, e.g. one the backup leaves for the OSC's return."""
        assignee, coverage = self.responsible_for(owner, due_at)
        if coverage is not None and due_at >= coverage.end:
            assignee = owner
        return self.repos.tasks.add(Task(
            id=None, title=title, due_at=due_at, owner_email=owner, assignee_email=assignee,
            lead_id=lead_id, created_by=by.lower(), cadence_step=cadence_step,
            coverage_id=coverage.id if coverage and assignee != owner else None))

    def _schedule_follow_up(self, lead: Lead, *, by: str, after: datetime) -> None:
        steps = self.config.policies.follow_up
        if not steps or lead.id is None:
            return
        coverage = self.active_coverage(lead.owner_email, after)
        if (coverage is not None and coverage.mode is CoverageMode.SHORT_TERM
                and coverage.backup_email and lead.coverage_id == coverage.id):
            # Short-term cover: the OSC starts new leads on the follow-up process on return.
            self.add_task(title=f"Start {lead.name} on your follow-up process",
                          due_at=max(coverage.end, after + steps[0]),
                          owner=lead.owner_email, by=by, lead_id=lead.id, cadence_step=0)
            return
        self.add_task(title=cadence.title_for(0, lead_name=lead.name,
                                              policies=self.config.policies),
                      due_at=after + steps[0], owner=lead.owner_email, by=by,
                      lead_id=lead.id, cadence_step=0)

    def _allowed(self, lead: Lead, by: str) -> None:
        who = by.lower()
        if who in (lead.assigned_to, lead.owner_email) or self.config.is_manager(who):
            return
        covering = self.active_coverage(lead.owner_email, self.clock.now())
        if covering is not None and covering.backup_email == who:
            return
        raise NotAllowed(f"this lead is {name_of(self.config, lead.assigned_to)}'s; "
                         "only they or a manager can act on it")

    def _allowed_task(self, task: Task, by: str) -> None:
        who = by.lower()
        if who not in (task.assignee_email, task.owner_email) and not self.config.is_manager(who):
            raise NotAllowed("only the person it is assigned to or a manager can do that")

    def _audit(self, lead: Lead, action: str, *, actor: str, reason: str) -> None:
        # Lead details stay out of the audit subject; the id is enough to look them up.
        self.repos.audit.record(AuditEntry(
            at=self.clock.now(), actor=actor, action=action, subject=f"lead:{lead.id}",
            reason=reason, after={"assigned_to": lead.assigned_to,
                                  "status": lead.status.value}))


def _received_position(lead: Lead) -> LeadPosition:
    assert lead.id is not None
    return lead.received_at, lead.id
