"""Scheduled upkeep of leads and tasks: reminders that have come due, and credit
protection about to lapse. Both passes are idempotent: outbox keys carry the due time
or the last two-way contact, so a second pass queues nothing new.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from functools import partial
from typing import Protocol

from bot.config.hours import in_working_hours
from bot.config.model import AppConfig
from bot.delivery.notify import Notifier
from bot.jobs.isolation import ItemGuard, paged
from bot.leads import cadence
from bot.leads.alerts import protection_lapsed, protection_warning, reminder
from bot.model import Lead, Task
from bot.ports.clock import Clock
from bot.ports.records import LeadPosition
from bot.ports.repositories import Repositories


class LeadAudit(Protocol):
    """Records a change to a lead in the audit log."""

    def __call__(self, lead: Lead, action: str, *, actor: str, reason: str) -> None:
        """Record `action` on `lead`."""
        ...


class LeadUpkeep:
    """The reminder and protection passes of the scheduler."""

    def __init__(self, *, config: AppConfig, repos: Repositories, clock: Clock,
                 notifier: Notifier, guard: ItemGuard,
                 audit: LeadAudit) -> None:
        self.config = config
        self.repos = repos
        self.clock = clock
        self.notifier = notifier
        self.guard = guard
        self._audit = audit

    def remind(self) -> int:
        """DM each assignee the tasks that have come due; once per task and due time.

        A task remembers the due time it was reminded for, so a pass reads only the
        reminders still to send, however many old tasks stay open.
        """
        now = self.clock.now()
        sent = 0
        tasks = self.repos.tasks.due_unreminded(now=now)
        leads = self.repos.leads.get_many([t.lead_id for t in tasks if t.lead_id is not None])
        for task in tasks:
            if not in_working_hours(now, self.config.zone_of(task.assignee_email),
                                    self.config.policies):
                continue  # not urgent: it goes out when their working day starts
            lead = leads.get(task.lead_id) if task.lead_id is not None else None
            sent += bool(self.guard.run("send_reminders", f"task:{task.id}",
                                        partial(self._remind, task, lead)))
        return sent

    def _remind(self, task: Task, lead: Lead | None) -> bool:
        # The outbox key stays the guard against a second DM if the pass stops between
        # queueing and marking.
        queued = self.notifier.direct(
            key=f"reminder:{task.id}:{task.due_at.isoformat()}", email=task.assignee_email,
            message=reminder(task, lead=lead, config=self.config,
                             zone=self.config.zone_of(task.assignee_email)))
        if task.id is not None:
            self.repos.tasks.mark_reminded(task.id, due_at=task.due_at)
        return queued

    def protect(self) -> int:
        """Warn owners a day before credit protection lapses; record lapses. Idempotent."""
        now = self.clock.now()
        horizon = now - self.config.policies.coverage_protection + cadence.WARN_BEFORE
        changed = 0
        for lead in paged(lambda after: self.repos.leads.two_way_before(
                before=horizon, after=after), _two_way_position):
            changed += bool(self.guard.run("protect_coverage", f"lead:{lead.id}",
                                           partial(self._protect, lead, now)))
        return changed

    def _protect(self, lead: Lead, now: datetime) -> bool:
        """Warn about or record the lapse of one lead's protection; True when it did."""
        policies = self.config.policies
        state = cadence.protection(last_two_way_at=lead.last_two_way_at, now=now,
                                   policies=policies)
        assert lead.last_two_way_at is not None
        deadline = lead.last_two_way_at + policies.coverage_protection
        zone = self.config.zone_of(lead.owner_email)
        if state is cadence.Protection.EXPIRING:
            return self.notifier.direct(
                key=f"protection-warning:{lead.id}:{lead.last_two_way_at.isoformat()}",
                email=lead.owner_email, message=protection_warning(
                    lead, deadline=deadline, config=self.config, zone=zone))
        if state is cadence.Protection.LAPSED:
            lapsed = self.repos.leads.save(dataclasses.replace(
                lead, protection_lapsed_at=deadline))
            self._audit(lapsed, "lead.protection_lapsed", actor="scheduler",
                        reason="no two-way contact within the protection window")
            self.notifier.direct(key=f"protection-lapsed:{lead.id}:{deadline.isoformat()}",
                                 email=lead.owner_email,
                                 message=protection_lapsed(lead, config=self.config))
            return True
        return False


def _two_way_position(lead: Lead) -> LeadPosition:
    assert lead.id is not None and lead.last_two_way_at is not None
    return lead.last_two_way_at, lead.id
