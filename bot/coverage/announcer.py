"""What the coverage lifecycle says, and to whom: the brief and its heads-up, the backup's
note, the return-to-office list, and the alert when nobody can cover.

Every message goes through the outbox under a key made from the coverage id, so saying
it again (a second replica, a retried tick) queues nothing new.
"""

from __future__ import annotations

import dataclasses

from bot.config.hours import in_working_hours
from bot.config.model import AppConfig
from bot.coverage import facts
from bot.coverage.briefs import (
    BriefFacts,
    ReturnFacts,
    backup_note,
    handoff_brief,
    no_backup_alert,
    return_list,
    return_note,
)
from bot.delivery.notify import Notifier
from bot.model import Coverage, CoverageOrigin, CoverageStatus
from bot.ports.clock import Clock
from bot.ports.repositories import Repositories
from bot.team.names import name_of


class CoverageAnnouncer:
    """Renders and queues the messages of one team's coverages."""

    def __init__(self, *, config: AppConfig, repos: Repositories, clock: Clock,
                 notifier: Notifier) -> None:
        self.config = config
        self.repos = repos
        self.clock = clock
        self.notifier = notifier

    def in_hours(self, zone: str) -> bool:
        """Whether it is working time now in `zone`, by the team's policies."""
        return in_working_hours(self.clock.now(), zone, self.config.policies)

    def brief_for(self, coverage: Coverage, *, heads_up: bool = False) -> BriefFacts:
        """Gather what the brief shows for a coverage."""
        return facts.brief_facts(self.repos, coverage, now=self.clock.now(), heads_up=heads_up)

    def return_facts(self, coverage: Coverage) -> ReturnFacts:
        """Gather what the return-to-office list shows."""
        return facts.return_facts(self.repos, coverage)

    def no_backup(self, coverage: Coverage) -> None:
        """Tell the managers nobody could be chosen to cover, and why each candidate was not."""
        reasons = [f"{name_of(self.config, s.email)} {s.reason}" for s in coverage.skipped]
        self.notifier.post(key=f"no-backup:{coverage.id}", message=no_backup_alert(
            osc_email=coverage.osc_email, reasons=reasons, config=self.config,
            zone=self.config.team.timezone, start=coverage.start))

    def heads_up(self, coverage: Coverage) -> bool:
        """The brief ahead of a planned leave; False when it was already queued."""
        message = handoff_brief(self.brief_for(coverage, heads_up=True), config=self.config,
                                zone=self.config.team.timezone)
        return self.notifier.post(key=f"heads-up:{coverage.id}", message=message)

    def brief_when_due(self, coverage: Coverage) -> bool:
        """The brief now if urgent (an emergency, nobody covering) or in the team's working
        hours; routing switched at 00:00 is announced when the team is at work."""
        if (coverage.origin is CoverageOrigin.EMERGENCY or coverage.backup_email is None
                or self.in_hours(self.config.team.timezone)):
            self.brief(coverage)
            return True
        return False

    def brief(self, coverage: Coverage) -> None:
        """The handoff brief in the team channel and the backup's "you are covering" DM."""
        zone = self.config.team.timezone
        brief = self.brief_for(coverage)
        message = handoff_brief(brief, config=self.config, zone=zone)
        if not self.notifier.post(key=f"brief:{coverage.id}", message=message):
            self.notifier.revise(key=f"brief:{coverage.id}", message=message)
        if coverage.backup_email:
            self.notifier.direct(
                key=f"brief-dm:{coverage.id}", email=coverage.backup_email,
                message=backup_note(brief, config=self.config,
                                    zone=self.config.zone_of(coverage.backup_email)))

    def refresh_brief(self, coverage: Coverage) -> None:
        """Re-render the brief (or its heads-up) in place, if one was posted."""
        for key in (f"brief:{coverage.id}", f"heads-up:{coverage.id}"):
            if self.notifier.exists(key):
                message = handoff_brief(self.brief_for(coverage), config=self.config,
                                        zone=self.config.team.timezone)
                if coverage.status is CoverageStatus.CANCELLED:
                    message = dataclasses.replace(message, text="Cancelled: " + message.text)
                self.notifier.revise(key=key, message=message)
                return

    def return_list(self, coverage: Coverage) -> None:
        """The return list when the OSC is at work (the tick retries until then)."""
        if not self.in_hours(self.config.zone_of(coverage.osc_email)):
            return
        facts = self.return_facts(coverage)
        self.notifier.direct(key=f"return-dm:{coverage.id}", email=coverage.osc_email,
                             message=return_list(facts, config=self.config,
                                                 zone=self.config.zone_of(coverage.osc_email)))
        self.notifier.post(key=f"return:{coverage.id}", message=return_note(
            facts, config=self.config, zone=self.config.team.timezone))
