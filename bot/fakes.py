"""In-memory implementations of every port, for tests and offline runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from bot.crm_fakes import InMemoryRecordMoves
from bot.errors import CalendarError, StaleWrite
from bot.fakes_delivery import (
    InMemoryJobRuns,
    InMemoryOutbox,
    InMemoryTransactions,
)
from bot.fakes_records import InMemoryActivities as InMemoryActivities
from bot.fakes_records import InMemoryAppointments as InMemoryAppointments
from bot.fakes_records import InMemoryCoverages as InMemoryCoverages
from bot.fakes_records import InMemoryLeads as InMemoryLeads
from bot.fakes_records import InMemoryTasks as InMemoryTasks
from bot.inbound import InMemoryInboundEvents
from bot.messages import Message, plain
from bot.model import (
    Absence,
)
from bot.ports import (
    AuditEntry,
    CalendarRead,
    CalendarSyncState,
    Clock,
    MessageRef,
    Repositories,
    RoutingSwitch,
)
from bot.work_items import InMemoryWorkItems

_T = TypeVar("_T")


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = now

    def now(self) -> datetime:
        """The clock's current instant."""
        return self._now

    def set(self, now: datetime) -> None:
        """Jump to an instant."""
        self._now = now

    def advance(self, by: timedelta) -> datetime:
        """Move forward and return the new instant."""
        self._now = self._now + by
        return self._now


@dataclasses.dataclass(frozen=True)
class SentMessage:
    """One message a RecordingChat received."""

    kind: str
    target: str
    message: Message
    ref: MessageRef
    key: str | None = None
    at: datetime | None = None


class RecordingChat:
    """A chat port that records a transcript instead of talking to a platform.

    With a `clock`, each message remembers when it arrived, so `find_sent` honours
    `since` as a platform's history would.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.transcript: list[SentMessage] = []
        self.uploads: list[tuple[str, str, bytes]] = []
        self._counter = 0
        self._clock = clock

    def _record(self, kind: str, target: str, message: Message, ref: MessageRef,
                key: str | None = None) -> MessageRef:
        at = self._clock.now() if self._clock else None
        self.transcript.append(SentMessage(kind, target, message, ref, key, at))
        return ref

    def _next_ref(self, channel: str) -> MessageRef:
        self._counter += 1
        return MessageRef(channel=channel, id=str(self._counter))

    def post(self, *, channel: str, message: Message, key: str | None = None) -> MessageRef:
        """Record a channel post."""
        return self._record("channel", channel, message, self._next_ref(channel), key)

    def direct(self, *, email: str, message: Message, key: str | None = None) -> MessageRef:
        """Record a DM."""
        return self._record("direct", email, message, self._next_ref(f"dm:{email}"), key)

    def find_sent(self, *, key: str, channel: str | None = None, email: str | None = None,
                  since: datetime) -> MessageRef | None:
        """The recorded message with this key to this channel or person since `since`."""
        target = channel if channel is not None else email
        for sent in reversed(self.transcript):
            if (sent.key == key and sent.target == target
                    and (sent.at is None or sent.at >= since)):
                return sent.ref
        return None

    def update(self, *, ref: MessageRef, message: Message) -> None:
        """Record an edit."""
        self._record("update", ref.channel, message, ref)

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> MessageRef:
        """Record a file upload (its title as the text, its size in the file name)."""
        ref = self._next_ref(channel)
        self.uploads.append((channel, filename, content))
        return self._record("upload", channel, Message(text=title), ref)

    def texts(self, kind: str | None = None) -> list[str]:
        """Fallback texts of recorded messages as a reader sees them, optionally of one kind."""
        return [plain(m.message.text) for m in self.transcript if kind is None or m.kind == kind]


class InMemoryCalendar:
    """A calendar source holding absences in memory; can be told to fail."""

    def __init__(self, absences: Sequence[Absence] = ()) -> None:
        self.absences: list[Absence] = list(absences)
        self.failure: str | None = None
        self.reads = 0

    def read(self, *, start: datetime, end: datetime, cursor: dict[str, str]) -> CalendarRead:
        """The stored absences overlapping the window, or CalendarError when failing."""
        self.reads += 1
        if self.failure is not None:
            raise CalendarError(self.failure)
        version = str(hash(tuple(self.absences)))
        if cursor.get("version") == version:
            return CalendarRead(absences=(), unchanged=True, cursor=cursor)
        return CalendarRead(absences=tuple(a for a in self.absences if a.overlaps(start, end)),
                            cursor={"version": version})


class InMemorySwitches:
    """RoutingSwitchRepository in memory."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int, str], RoutingSwitch] = {}
        self._next_id = 1

    def get(self, *, coverage_id: int, channel: str) -> RoutingSwitch | None:
        """The switch for a coverage and channel."""
        return self._rows.get((coverage_id, channel))

    def save(self, switch: RoutingSwitch) -> RoutingSwitch:
        """Insert or update by (coverage_id, channel)."""
        key = (switch.coverage_id, switch.channel)
        existing = self._rows.get(key)
        if (existing.version if existing else 0) != switch.version or (
                existing is None and switch.id is not None):
            raise StaleWrite(f"switch {switch.channel} of coverage {switch.coverage_id} "
                             "changed since it was read")
        if existing is None:
            switch = dataclasses.replace(switch, id=self._next_id, version=1)
            self._next_id += 1
        else:
            switch = dataclasses.replace(switch, id=existing.id, version=switch.version + 1)
        self._rows[key] = switch
        return switch

    def list(self, *, coverage_id: int) -> list[RoutingSwitch]:
        """Every switch of a coverage."""
        return [s for (cid, _), s in sorted(self._rows.items()) if cid == coverage_id]


class InMemoryAudit:
    """AuditLog in memory."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        """Append an entry."""
        self.entries.append(entry)

    def list(self, *, subject: str | None = None) -> list[AuditEntry]:
        """Entries, optionally for one subject."""
        return [e for e in self.entries if subject is None or e.subject == subject]


class InMemoryCalendarSync:
    """CalendarSyncRepository in memory."""

    def __init__(self) -> None:
        self._rows: dict[str, CalendarSyncState] = {}

    def get(self, osc_email: str) -> CalendarSyncState | None:
        """State for an OSC."""
        return self._rows.get(osc_email)

    def get_many(self, osc_emails: Sequence[str]) -> dict[str, CalendarSyncState]:
        """States by email, for those that exist."""
        return {e: self._rows[e] for e in osc_emails if e in self._rows}

    def save(self, state: CalendarSyncState) -> None:
        """Insert or replace."""
        self._rows[state.osc_email] = state


class InMemoryRoutes:
    """RouteRepository in memory."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], str] = {}

    def get(self, *, osc_email: str, channel: str) -> str | None:
        """Current target."""
        return self._rows.get((osc_email, channel))

    def set(self, *, osc_email: str, channel: str, target: str | None) -> None:
        """Set or clear the target."""
        if target is None:
            self._rows.pop((osc_email, channel), None)
        else:
            self._rows[(osc_email, channel)] = target


def in_memory_repositories() -> Repositories:
    """A fresh bundle of in-memory repositories; `tx` rolls all of them back together."""
    repos = _bundle()
    tx = InMemoryTransactions([getattr(repos, f.name) for f in dataclasses.fields(repos)
                               if f.name not in ("tx", "job_runs", "inbound", "work_items")])
    return dataclasses.replace(repos, tx=tx)


def _bundle() -> Repositories:
    leads = InMemoryLeads()
    return Repositories(
        coverages=InMemoryCoverages(),
        leads=leads,
        activities=InMemoryActivities(leads),
        tasks=InMemoryTasks(),
        appointments=InMemoryAppointments(),
        switches=InMemorySwitches(),
        audit=InMemoryAudit(),
        outbox=InMemoryOutbox(),
        calendar_sync=InMemoryCalendarSync(),
        routes=InMemoryRoutes(),
        moves=InMemoryRecordMoves(),
        tx=InMemoryTransactions(()),
        job_runs=InMemoryJobRuns(),
        inbound=InMemoryInboundEvents(),
        work_items=InMemoryWorkItems(),
    )
