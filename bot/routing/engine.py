"""The routing engine: journaled, idempotent, resumable switches per channel.

For each coverage and channel the journal moves pending -> applied (or manual,
failed) -> reverting -> reverted (or conflict). The snapshot taken before the
switch is what revert restores; a route changed by hand meanwhile is reported,
never overwritten.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from bot.config.model import PersonConfig
from bot.errors import ManualStepRequired, RoutingError
from bot.model import (
    AuditEntry,
    Coverage,
    RoutingState,
)
from bot.ports.clock import Clock
from bot.ports.records import AuditLog
from bot.ports.routing import (
    RecordHandover,
    RoutingAdapter,
    RoutingSwitch,
    RoutingSwitchRepository,
    SwitchStatus,
)

DONE_SWITCHING = (SwitchStatus.APPLIED, SwitchStatus.MANUAL)


DONE_REVERTING = (SwitchStatus.REVERTED, SwitchStatus.CONFLICT)


# The journal reason of a manual step nobody confirmed: on return it is checked, not undone.
UNCONFIRMED = "manual switch was never confirmed; a person must check it"


def state_to_dict(state: RoutingState) -> dict[str, Any]:
    """A JSON-ready routing snapshot."""
    return {"channel": state.channel, "target": state.target, "details": dict(state.details)}


def state_from_dict(data: Mapping[str, Any]) -> RoutingState:
    """Rebuild a snapshot stored by `state_to_dict`."""
    return RoutingState(str(data["channel"]), str(data["target"]),
                        {str(k): str(v) for k, v in dict(data.get("details", {})).items()})


class RoutingEngine:
    """Applies and reverts a coverage's routing through the configured adapters."""

    def __init__(
        self,
        *,
        adapters: Mapping[str, RoutingAdapter],
        switches: RoutingSwitchRepository,
        audit: AuditLog,
        clock: Clock,
        max_attempts: int = 8,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self._adapters = dict(adapters)
        self._switches = switches
        self._audit = audit
        self._clock = clock
        self.max_attempts = max_attempts
        self._on_step = on_step

    @property
    def adapters(self) -> dict[str, RoutingAdapter]:
        """The adapter of each channel, in switching order."""
        return dict(self._adapters)

    def switch_all(
        self, *, coverage: Coverage, osc: PersonConfig, backup: PersonConfig, actor: str,
        reason: str,
    ) -> list[RoutingSwitch]:
        """Switch every channel to the backup; channels already switched are left alone."""
        assert coverage.id is not None
        switched = [self._switch_one(coverage, channel, osc, backup, actor, reason)
                    for channel in self._adapters]
        self.hand_over_all(coverage=coverage, osc=osc, backup=backup, actor=actor)
        return switched

    def hand_over_all(self, *, coverage: Coverage, osc: PersonConfig, backup: PersonConfig,
                      actor: str) -> list[str]:
        """Let every switched record-moving adapter move what is due; returns the problems.

        A failure here leaves the switch applied: the next run (a job every few minutes)
        picks up where this one stopped.
        """
        assert coverage.id is not None
        problems = []
        for channel, adapter in self._adapters.items():
            journal = self._switches.get(coverage_id=coverage.id, channel=channel)
            if (not isinstance(adapter, RecordHandover) or journal is None
                    or journal.status is not SwitchStatus.APPLIED):
                continue
            try:
                moved = adapter.hand_over(coverage=coverage, osc=osc, backup=backup)
            except RoutingError as exc:
                problems.append(f"{channel}: {exc}")
                self._audit.record(AuditEntry(
                    at=self._clock.now(), actor=actor, action="routing.handover_failed",
                    subject=f"coverage:{coverage.id}:{channel}", reason=str(exc)))
                continue
            if moved:
                self._audit.record(AuditEntry(
                    at=self._clock.now(), actor=actor, action="routing.handed_over",
                    subject=f"coverage:{coverage.id}:{channel}",
                    reason=f"{moved} record(s) moved to {backup.email}"))
        return problems

    def revert_all(
        self, *, coverage: Coverage, osc: PersonConfig, actor: str, reason: str
    ) -> list[RoutingSwitch]:
        """Put every switched channel back to its snapshot."""
        assert coverage.id is not None
        results = []
        for channel in self._adapters:
            journal = self._switches.get(coverage_id=coverage.id, channel=channel)
            if journal is not None:
                results.append(self._revert_one(journal, osc, actor, reason))
        return results

    def confirm_manual(self, *, coverage_id: int, channel: str, actor: str) -> RoutingSwitch:
        """Record that a person did a manual step (switch or revert)."""
        journal = self._switches.get(coverage_id=coverage_id, channel=channel)
        if journal is None:
            raise RoutingError(f"nothing to confirm for {channel}")
        if journal.status in (SwitchStatus.APPLIED, SwitchStatus.REVERTED):
            return journal
        if journal.status is SwitchStatus.REVERTING:
            return self._save(journal, SwitchStatus.REVERTED, actor=actor,
                              reason="manual revert confirmed", last_error="")
        before = journal.before or {}
        after = {"channel": journal.channel, "target": before.get("target", ""),
                 "details": {"confirmed_by": actor}}
        return self._save(journal, SwitchStatus.APPLIED, actor=actor, after=after,
                          reason="manual switch confirmed", last_error="")

    def is_complete(self, coverage_id: int) -> bool:
        """True when every channel is switched or waiting on a confirmed-by-hand step."""
        return all(
            (s := self._switches.get(coverage_id=coverage_id, channel=c)) is not None
            and s.status in DONE_SWITCHING
            for c in self._adapters
        )

    def _switch_one(
        self, coverage: Coverage, channel: str, osc: PersonConfig, backup: PersonConfig,
        actor: str, reason: str,
    ) -> RoutingSwitch:
        assert coverage.id is not None
        adapter = self._adapters[channel]
        journal = self._switches.get(coverage_id=coverage.id, channel=channel)
        if journal is not None and journal.status in (*DONE_SWITCHING, *DONE_REVERTING,
                                                      SwitchStatus.REVERTING):
            return journal
        if journal is not None and journal.attempts >= self.max_attempts:
            return journal
        try:
            if journal is None or journal.before is None:
                before = adapter.read(osc=osc)
                journal = self._save(journal or self._new(coverage.id, channel, adapter.name),
                                     SwitchStatus.PENDING, actor=actor, reason=reason,
                                     before=state_to_dict(before))
            self._step(f"switch {channel}")
            after = adapter.switch(osc=osc, backup=backup, mode=coverage.mode)
            current = adapter.read(osc=osc)
            if current.target != after.target:
                raise RoutingError(
                    f"{channel} still routes to {current.target} after the switch",
                    transient=True)
        except ManualStepRequired as exc:
            return self._save(journal or self._new(coverage.id, channel, adapter.name),
                              SwitchStatus.MANUAL, actor=actor, reason=reason,
                              last_error=exc.manual_step)
        except RoutingError as exc:
            return self._failed(journal or self._new(coverage.id, channel, adapter.name),
                                exc, actor=actor, reason=reason)
        return self._save(journal, SwitchStatus.APPLIED, actor=actor, reason=reason,
                          after=state_to_dict(after), last_error="")

    def _revert_one(
        self, journal: RoutingSwitch, osc: PersonConfig, actor: str, reason: str
    ) -> RoutingSwitch:
        if journal.status in DONE_REVERTING:
            return journal
        adapter = self._adapters[journal.channel]
        if journal.before is None:
            return self._save(journal, SwitchStatus.REVERTED, actor=actor,
                              reason="nothing had been switched")
        before = state_from_dict(journal.before)
        try:
            if journal.status is SwitchStatus.MANUAL and not journal.after:
                # Nobody confirmed the switch, so nobody knows whether it was done: never
                # claim it is back; ask a person to check (and undo it if it was done).
                try:
                    adapter.restore(osc=osc, snapshot=before)
                except ManualStepRequired as exc:
                    return self._save(journal, SwitchStatus.REVERTING, actor=actor,
                                      reason=UNCONFIRMED, last_error=exc.manual_step)
                return self._save(journal, SwitchStatus.REVERTED, actor=actor, reason=reason)
            # A manual channel cannot be read back, so its state proves nothing.
            observable = before.details.get("manual") != "true"
            current = adapter.read(osc=osc)
            expected = (journal.after or {}).get("target")
            if observable and current.target == before.target:
                return self._save(journal, SwitchStatus.REVERTED, actor=actor, reason=reason)
            if (observable and journal.status is SwitchStatus.APPLIED and expected is not None
                    and current.target != expected):
                message = (f"{journal.channel} now routes to {current.target}, not "
                           f"{expected} as switched; left as is — a manager should decide "
                           f"whether to put it back to {before.target}")
                return self._save(journal, SwitchStatus.CONFLICT, actor=actor, reason=reason,
                                  last_error=message)
            journal = self._save(journal, SwitchStatus.REVERTING, actor=actor, reason=reason)
            self._step(f"revert {journal.channel}")
            restored = adapter.restore(osc=osc, snapshot=before)
        except ManualStepRequired as exc:
            return self._save(journal, SwitchStatus.REVERTING, actor=actor, reason=reason,
                              last_error=exc.manual_step)
        except RoutingError as exc:
            return self._failed(journal, exc, actor=actor, reason=reason,
                                status=SwitchStatus.REVERTING)
        if restored.details.get("conflict"):
            return self._save(journal, SwitchStatus.CONFLICT, actor=actor, reason=reason,
                              last_error=restored.details["conflict"])
        return self._save(journal, SwitchStatus.REVERTED, actor=actor, reason=reason,
                          last_error="")

    def _new(self, coverage_id: int, channel: str, adapter: str) -> RoutingSwitch:
        return RoutingSwitch(
            id=None, coverage_id=coverage_id, channel=channel, adapter=adapter,
            status=SwitchStatus.PENDING, before=None, after=None, attempts=0, last_error="",
            updated_at=self._clock.now(), actor="", reason="",
        )

    def _failed(self, journal: RoutingSwitch, exc: RoutingError, *, actor: str, reason: str,
                status: SwitchStatus = SwitchStatus.FAILED) -> RoutingSwitch:
        message = str(exc) + (f" — by hand: {exc.manual_step}" if exc.manual_step else "")
        journal = dataclasses.replace(journal, attempts=journal.attempts + 1)
        if not exc.transient:
            journal = dataclasses.replace(journal, attempts=self.max_attempts)
        return self._save(journal, status, actor=actor, reason=reason, last_error=message)

    def _save(self, journal: RoutingSwitch, status: SwitchStatus, *, actor: str, reason: str,
              before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
              last_error: str | None = None) -> RoutingSwitch:
        updated = dataclasses.replace(
            journal, status=status, actor=actor, reason=reason,
            before=before if before is not None else journal.before,
            after=after if after is not None else journal.after,
            last_error=journal.last_error if last_error is None else last_error,
            updated_at=self._clock.now(),
        )
        saved = self._switches.save(updated)
        self._audit.record(AuditEntry(
            at=self._clock.now(), actor=actor, action=f"routing.{status.value}",
            subject=f"coverage:{journal.coverage_id}:{journal.channel}", reason=reason,
            before=journal.before, after=saved.after,
        ))
        return saved

    def _step(self, name: str) -> None:
        # A seam for crash tests: a hook that may raise between journal writes.
        if self._on_step is not None:
            self._on_step(name)


