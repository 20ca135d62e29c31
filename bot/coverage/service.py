"""Coverage use cases: declare, follow the calendar, start, end, come back early."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bot.config.model import AppConfig, PersonConfig, Role
from bot.coverage import lifecycle
from bot.coverage.announcer import CoverageAnnouncer
from bot.coverage.backups import BackupChoice, choose_backup, recorded_away
from bot.coverage.briefs import BriefFacts, ReturnFacts
from bot.coverage.return_check import return_question
from bot.delivery.notify import Notifier
from bot.errors import InvalidInput, NotAllowed, NotFound, StaleWrite
from bot.jobs.isolation import ItemGuard
from bot.model import (
    Absence,
    AbsenceKind,
    AuditEntry,
    Coverage,
    CoverageOrigin,
    CoverageStatus,
    TaskStatus,
)
from bot.ports.clock import Clock
from bot.ports.repositories import Repositories
from bot.routing.engine import RoutingEngine
from bot.team.names import name_of

OPEN = (CoverageStatus.PLANNED, CoverageStatus.ACTIVE)


@dataclass(frozen=True)
class TickReport:
    """What one pass of the coverage job did."""

    heads_up: int = 0
    started: int = 0
    resumed: int = 0
    ended: int = 0

# A return list not yet sent (the OSC came back out of hours) is still sent this long after.
RETURN_LIST_WAITS = timedelta(days=7)


class CoverageService:
    """Runs the coverage lifecycle through storage, routing and the outbox."""

    def __init__(self, *, config: AppConfig, repos: Repositories, clock: Clock,
                 engine: RoutingEngine, notifier: Notifier) -> None:
        self.config = config
        self.repos = repos
        self.clock = clock
        self.engine = engine
        self.notifier = notifier
        self.announce = CoverageAnnouncer(config=config, repos=repos, clock=clock,
                                          notifier=notifier)
        self.guard = ItemGuard(audit=repos.audit, notifier=notifier, clock=clock,
                               managers=config.team.managers)

    # --- declaring ------------------------------------------------------------

    def declare(
        self, *, osc_email: str, start: datetime, end: datetime, kind: AbsenceKind,
        actor: str, backup_email: str | None = None, notes: str = "",
        emergency: bool = False,
    ) -> Coverage:
        """Declare an absence by hand (`/going-on-leave`); emergencies start now."""
        now = self.clock.now()
        osc = self._osc(osc_email)
        if actor.lower() != osc.email and not self.config.is_manager(actor):
            raise NotAllowed("only the OSC or a manager can declare this absence")
        if emergency:
            start = now
        if end <= start:
            raise InvalidInput("the end must be after the start", field="end")
        if end <= now:
            raise InvalidInput("that absence is already over", field="end")
        # The overlap check and the insert are one transaction that holds the OSC: two
        # overlapping leaves filed at once (two replicas) cannot both pass the check.
        with self.repos.tx.atomic():
            self.repos.coverages.hold(osc.email)
            for existing in self.repos.coverages.list(osc_email=osc.email, statuses=OPEN):
                if existing.start < end and start < existing.end:
                    raise InvalidInput(
                        f"{osc.name} already has coverage from {existing.start:%Y-%m-%d} "
                        f"to {existing.end:%Y-%m-%d}; end it or pick other dates",
                        field="start")
            choice = self.choose(osc_email=osc.email, start=start, end=end,
                                 preferred=backup_email)
            if backup_email and (choice.backup is None
                                 or choice.backup.email != backup_email.lower()):
                why = next((s.reason for s in choice.skipped
                            if s.email == backup_email.lower()), "cannot cover")
                raise InvalidInput(f"{name_of(self.config, backup_email)} {why}",
                                   field="backup")
            origin = CoverageOrigin.EMERGENCY if emergency else CoverageOrigin.MANUAL
            coverage = self._create(
                lifecycle.plan_coverage(
                    osc_email=osc.email, start=start, end=end, kind=kind, origin=origin,
                    choice=choice, policies=self.config.policies, declared_by=actor.lower(),
                    backup_chosen_by=actor.lower() if backup_email else None,
                    notes=notes),
                actor=actor.lower(), reason=f"declared by {actor.lower()}")
        if coverage.start <= now:
            coverage = self.start(coverage)
        return coverage

    def choose(self, *, osc_email: str, start: datetime, end: datetime,
               preferred: str | None = None) -> BackupChoice:
        """Pick the backup for a window (used by declare, the modal and the drill)."""
        open_leads = {email: self.repos.leads.count_open(assigned_to=email)
                      for email in self.config.person(osc_email).backups}
        return choose_backup(config=self.config, osc_email=osc_email, start=start, end=end,
                             is_away=self.is_away, open_leads=open_leads, preferred=preferred)

    def is_away(self, email: str, start: datetime, end: datetime) -> bool:
        """True when the person has an open coverage or a calendar absence in the window."""
        return recorded_away(self.repos, email, start, end)

    # --- following the calendar ---------------------------------------------------

    def apply_calendar(self, *, osc_email: str, absences: Sequence[Absence]) -> int:
        """Bring one OSC's calendar coverages in line with their absences; returns changes."""
        now = self.clock.now()
        changes = lifecycle.reconcile(
            absences=absences, now=now,
            coverages=self.repos.coverages.list(osc_email=osc_email, statuses=OPEN))
        for change in changes:
            if isinstance(change, lifecycle.CreateCoverage):
                a = change.absence
                choice = self.choose(osc_email=osc_email, start=a.start, end=a.end)
                self._create(lifecycle.plan_coverage(
                    osc_email=osc_email, start=a.start, end=a.end, kind=a.kind,
                    origin=CoverageOrigin.CALENDAR, choice=choice,
                    policies=self.config.policies, notes=a.summary, source_uids=a.uids),
                    actor="calendar", reason=f"calendar: {a.summary or a.kind.value}")
            elif isinstance(change, lifecycle.RescheduleCoverage):
                moved = lifecycle.reschedule(
                    change.coverage, start=change.absence.start, end=change.absence.end,
                    policies=self.config.policies, now=now)
                moved = dataclasses.replace(moved, source_uids=change.absence.uids)
                self._save(change.coverage, moved, actor="calendar", reason="absence changed")
                self.announce.refresh_brief(moved)
            elif isinstance(change, lifecycle.CancelCoverage):
                cancelled = lifecycle.cancel(change.coverage, now=now)
                self._save(change.coverage, cancelled, actor="calendar",
                           reason="absence removed from the calendar")
                self.announce.refresh_brief(cancelled)
            else:
                self._ask_return(change.coverage, change.absence)
        return len(changes)

    def _ask_return(self, coverage: Coverage, absence: Absence | None) -> None:
        """Ask the OSC and the managers once per coverage; nothing else changes."""
        readers = dict.fromkeys((coverage.osc_email, *self.config.team.managers))
        for reader in readers:
            self.notifier.direct(
                key=f"return-check:{coverage.id}:{reader}", email=reader,
                message=return_question(coverage, absence=absence, config=self.config,
                                        reader=reader))
        self._audit(coverage, actor="calendar", action="coverage.return_asked",
                    reason="the calendar no longer shows the whole absence")

    def answer_return(self, *, coverage_id: int, actor: str, back: bool) -> Coverage:
        """The OSC or a manager answers "are you back?": end now, or keep the plan."""
        coverage = self.repos.coverages.get(coverage_id)
        if actor.lower() != coverage.osc_email and not self.config.is_manager(actor):
            raise NotAllowed("only the OSC or a manager can answer this")
        if coverage.status is not CoverageStatus.ACTIVE:
            raise InvalidInput(f"this coverage is already {coverage.status.value}")
        if not back:
            self._audit(coverage, actor=actor.lower(), action="coverage.still_away",
                        reason="answered: still away")
            return coverage
        return self.end(coverage, actor=actor.lower())

    # --- the clock moves ---------------------------------------------------------

    def tick(self) -> TickReport:
        """Heads-ups, due starts, unfinished switches and due ends; safe to run any time."""
        now = self.clock.now()
        counts = {"heads_up": 0, "started": 0, "resumed": 0, "ended": 0}
        for c in self.repos.coverages.list(statuses=OPEN):
            # One coverage that cannot be handled never holds up the others.
            done = self.guard.run("coverage_tick", f"coverage:{c.id}",
                                  partial(self._tick_one, c, now))
            if done:
                counts[done] += 1
        for c in self.repos.coverages.list(statuses=(CoverageStatus.RETURNED,)):
            # A return list held back until the OSC's working day (announce.return_list).
            if (c.ended_at is not None and now - c.ended_at < RETURN_LIST_WAITS
                    and not self.notifier.exists(f"return-dm:{c.id}")):
                self.guard.run("coverage_tick", f"return:{c.id}",
                               partial(self.announce.return_list, c))
        return TickReport(**counts)

    def _tick_one(self, c: Coverage, now: datetime) -> str | None:
        """Move one open coverage along; the TickReport field it counts in, if any.

        Safe on any number of replicas at once: a coverage another one changed in the
        meantime (StaleWrite) is left to it.
        """
        try:
            return self._advance(c, now)
        except StaleWrite:
            return None

    def _advance(self, c: Coverage, now: datetime) -> str | None:
        if c.status is CoverageStatus.PLANNED and c.start <= now:
            if c.end <= now:
                self._save(c, lifecycle.cancel(c, now=now), actor="scheduler",
                           reason="absence passed before coverage could start")
                return None
            self.start(c)
            return "started"
        if c.status is CoverageStatus.PLANNED:
            due = (c.start - self.config.policies.heads_up_before <= now
                   and self.announce.in_hours(self.config.team.timezone))
            return "heads_up" if due and self.announce.heads_up(c) else None
        if lifecycle.is_due_to_end(c, now):
            self.end(c, actor="scheduler")
            return "ended"
        if (c.status is CoverageStatus.ACTIVE and c.id is not None and c.backup_email
                and not self.engine.is_complete(c.id)):
            # A start cut short (crash, failed switch) is finished: switches, tasks and
            # a brief that may never have been posted; every step is idempotent.
            self._switch(c)
            with self.repos.tx.atomic():
                self._move_tasks(c)
                self.announce.brief_when_due(c)
            return "resumed"
        if (c.status is CoverageStatus.ACTIVE and c.id is not None
                and not self.notifier.exists(f"brief:{c.id}") and self.announce.brief_when_due(c)):
            return "resumed"
        return None

    def start(self, coverage: Coverage) -> Coverage:
        """Planned -> active: re-check the backup, switch routing, move tasks, post the brief."""
        now = self.clock.now()
        if coverage.backup_email:
            backup = self.config.find_person(coverage.backup_email)
            still_ok = backup is not None and not self.is_away(
                backup.email, coverage.start, coverage.end)
            if not still_ok:
                choice = self.choose(osc_email=coverage.osc_email, start=coverage.start,
                                     end=coverage.end)
                coverage = dataclasses.replace(
                    coverage, backup_email=choice.backup.email if choice.backup else None,
                    skipped=choice.skipped, backup_chosen_by=None)
        active = lifecycle.activate(coverage, now=now)
        # Compare-and-set on the version: of two replicas starting the same coverage, one
        # wins and the other gets StaleWrite before it switches or posts anything.
        with self.repos.tx.atomic():
            active = self._save(coverage, active, actor="scheduler", reason="absence started")
            if active.backup_email is None:
                self.announce.no_backup(active)
            else:
                self._move_tasks(active)
        # Routing calls other systems: not inside a transaction. Each switch is journaled,
        # and tick() finishes a start cut short here.
        self._switch(active)
        with self.repos.tx.atomic():
            self.announce.brief_when_due(active)
        return active

    def end(self, coverage: Coverage, *, actor: str) -> Coverage:
        """Active -> returned: revert routing, hand tasks back, post the return list."""
        now = self.clock.now()
        osc = self._osc(coverage.osc_email)
        if coverage.status is CoverageStatus.PLANNED:
            return self._save(coverage, lifecycle.cancel(coverage, now=now), actor=actor,
                              reason="cancelled before it started")
        self.engine.revert_all(coverage=coverage, osc=osc, actor=actor, reason="OSC returned")
        with self.repos.tx.atomic():
            self._return_tasks(coverage)
            finished = self._save(coverage, lifecycle.finish(coverage, now=now), actor=actor,
                                  reason="OSC returned")
            self.announce.return_list(finished)
            self.announce.refresh_brief(finished)
        return finished

    def im_back(self, *, osc_email: str, actor: str) -> Coverage:
        """End the OSC's current coverage now (or cancel a planned one that has not begun)."""
        osc = self._osc(osc_email)
        if actor.lower() != osc.email and not self.config.is_manager(actor):
            raise NotAllowed("only the OSC or a manager can end this coverage")
        now = self.clock.now()
        open_now = [c for c in self.repos.coverages.list(osc_email=osc.email, statuses=OPEN)
                    if c.start <= now]
        if not open_now:
            raise NotFound(f"{osc.name} has no coverage running right now")
        return self.end(open_now[0], actor=actor.lower())

    def hand_over_records(self, coverage_ids: Collection[int] | None = None
                          ) -> tuple[int, list[str]]:
        """For every active coverage (or those of `coverage_ids` still active), let CRM
        adapters move what arrived since the last run.

        Returns how many coverages were swept and the problems met (retried next run).
        """
        swept, problems = 0, []
        for c in self.repos.coverages.list(statuses=(CoverageStatus.ACTIVE,)):
            if c.backup_email is None or (coverage_ids is not None
                                          and c.id not in coverage_ids):
                continue
            found = self.guard.run("hand_over_crm_records", f"coverage:{c.id}",
                                   partial(self._hand_over, c, c.backup_email))
            problems += found or []
            swept += found is not None
        return swept, problems

    def _hand_over(self, c: Coverage, backup_email: str) -> list[str]:
        return self.engine.hand_over_all(coverage=c, osc=self._osc(c.osc_email),
                                         backup=self.config.person(backup_email),
                                         actor="scheduler")

    def open_coverages(self) -> list[Coverage]:
        """Planned and active coverages, by start."""
        return self.repos.coverages.list(statuses=OPEN)

    def get(self, coverage_id: int) -> Coverage:
        """One coverage; NotFound when there is none with this id."""
        return self.repos.coverages.get(coverage_id)

    def covered_now(self) -> list[Coverage]:
        """Active coverages that have a backup (whose CRM records may need handing over)."""
        return [c for c in self.repos.coverages.list(statuses=(CoverageStatus.ACTIVE,))
                if c.backup_email is not None]

    def routed_to(self, osc_email: str, *, channel: str) -> str:
        """Who receives the OSC's traffic on a channel of oscbot's own route table now."""
        return self.repos.routes.get(osc_email=osc_email, channel=channel) or osc_email

    def confirm_step(self, *, coverage_id: int, channel: str, actor: str) -> Coverage:
        """A person confirms they did a routing step by hand (the backup, the OSC or a
        manager); the brief is refreshed to show it."""
        coverage = self.repos.coverages.get(coverage_id)
        who = actor.lower()
        if who not in (coverage.backup_email, coverage.osc_email) and not (
                self.config.is_manager(who)):
            raise NotAllowed("only the backup, the OSC or a manager can confirm routing steps")
        self.engine.confirm_manual(coverage_id=coverage_id, channel=channel, actor=who)
        self.refresh(coverage)
        return coverage

    def rehearse_routing(self, *, osc_email: str, backup_email: str
                         ) -> list[tuple[str, str, list[str]]]:
        """For the drill: each channel, its adapter, and the problems a switch from the OSC
        to the backup would hit (read-only; nothing is switched)."""
        osc, backup = self._osc(osc_email), self.config.person(backup_email)
        return [(channel, adapter.name, adapter.check(osc=osc, backup=backup))
                for channel, adapter in self.engine.adapters.items()]

    def brief_for(self, coverage: Coverage, *, heads_up: bool = False) -> BriefFacts:
        """Gather what the brief shows for a coverage."""
        return self.announce.brief_for(coverage, heads_up=heads_up)

    # --- internals -------------------------------------------------------------

    def _osc(self, email: str) -> PersonConfig:
        person = self.config.find_person(email)
        if person is None:
            raise NotFound(f"{email} is not on the team")
        if person.role is not Role.OSC:
            raise InvalidInput(f"{person.name} is not an OSC; only OSCs are covered",
                               field="osc")
        return person

    def _create(self, coverage: Coverage, *, actor: str, reason: str) -> Coverage:
        with self.repos.tx.atomic():
            stored = self.repos.coverages.add(coverage)
            self._audit(stored, actor=actor, action="coverage.planned", reason=reason)
            if stored.backup_email is None:
                self.announce.no_backup(stored)
        return stored

    def _save(self, old: Coverage, new: Coverage, *, actor: str, reason: str) -> Coverage:
        saved = self.repos.coverages.save(new)
        self._audit(saved, actor=actor, action=f"coverage.{saved.status.value}", reason=reason,
                    before=_summary(old))
        return saved

    def _audit(self, coverage: Coverage, *, actor: str, action: str, reason: str,
               before: dict[str, str] | None = None) -> None:
        self.repos.audit.record(AuditEntry(
            at=self.clock.now(), actor=actor, action=action, subject=f"coverage:{coverage.id}",
            reason=reason, before=before, after=_summary(coverage)))

    def _switch(self, coverage: Coverage) -> None:
        if coverage.backup_email is None:
            return
        self.engine.switch_all(
            coverage=coverage, osc=self._osc(coverage.osc_email),
            backup=self.config.person(coverage.backup_email), actor="scheduler",
            reason=f"coverage {coverage.id} started")

    def _move_tasks(self, coverage: Coverage) -> None:
        assert coverage.backup_email is not None
        for task in self.repos.tasks.list(owner_email=coverage.osc_email, status=TaskStatus.OPEN,
                                          due_before=coverage.end):
            if task.assignee_email == coverage.osc_email:
                self.repos.tasks.save(dataclasses.replace(
                    task, assignee_email=coverage.backup_email, coverage_id=coverage.id))

    def _return_tasks(self, coverage: Coverage) -> None:
        for task in self.repos.tasks.list(coverage_id=coverage.id, status=TaskStatus.OPEN):
            self.repos.tasks.save(dataclasses.replace(task, assignee_email=task.owner_email))

    def refresh(self, coverage: Coverage) -> None:
        """Re-render the coverage's brief in place after something changed."""
        current = self.repos.coverages.get(coverage.id) if coverage.id else coverage
        self.announce.refresh_brief(current)

    def return_facts(self, coverage: Coverage) -> ReturnFacts:
        """Gather what the return-to-office list shows."""
        return self.announce.return_facts(coverage)


def _summary(coverage: Coverage) -> dict[str, str]:
    return {
        "status": coverage.status.value, "start": coverage.start.isoformat(),
        "end": coverage.end.isoformat(), "backup": coverage.backup_email or "",
        "mode": coverage.mode.value,
    }

