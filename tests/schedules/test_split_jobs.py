"""Split jobs on in-memory ports: items enqueued once per slot, worked by whichever
replica asks, taken over after a lost lease, failures isolated."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.fakes.calendars import InMemoryCalendar
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.jobs import InMemoryWorkItems
from bot.fakes.repositories import in_memory_repositories
from bot.model import Absence, AbsenceKind, CoverageStatus
from bot.ports.repositories import Repositories
from handlers.wiring import build_context
from schedules.jobs import CALENDARS, INBOUND_RETENTION, job
from schedules.scheduler import run_tick, slot_of
from tests.conftest import make_config

T0 = datetime(2026, 11, 30, 14, 0, 5, tzinfo=UTC)
OSCS = [f"osc{i}@rh.example" for i in range(12)]
GHOST = "ghost@rh.example"  # a calendar whose owner left the team: applying it fails
SYNC = job("sync_calendars")


def team() -> AppConfig:
    return make_config(people=[
        *({"email": osc, "name": f"Osc {i}", "role": "osc", "backups": ["jo@rh.example"]}
          for i, osc in enumerate(OSCS)),
        {"email": "jo@rh.example", "name": "Jo", "role": "backup", "trained": True,
         "shadowed": True},
        {"email": "dana@rh.example", "name": "Dana", "role": "manager"}])


class Cluster:
    """Replicas sharing one set of repositories and calendars, each with its own services."""

    def __init__(self, calendars: dict[str, InMemoryCalendar]) -> None:
        self.config = team()
        self.repos: Repositories = in_memory_repositories()
        self.clock = FixedClock(T0)
        self.calendars = calendars
        self.replicas = [self.replica() for _ in range(2)]

    def replica(self) -> AppContext:
        return build_context(config=self.config, repos=self.repos, clock=self.clock,
                             chat=RecordingChat(), sources=self.calendars)

    def reads(self) -> dict[str, int]:
        return {osc: c.reads for osc, c in self.calendars.items()}


@pytest.fixture
def cluster() -> Cluster:
    return Cluster({osc: InMemoryCalendar() for osc in OSCS})


def test_a_slot_is_worked_once_whichever_replicas_tick(cluster: Cluster) -> None:
    first, second = cluster.replicas
    summary = run_tick(first, SYNC, SYNC.every)
    assert summary == "read 12 calendars (0 unchanged, 0 failed, 0 suspect), 0 coverage changes"
    assert set(cluster.reads().values()) == {1}
    # The other replica's tick in the same slot finds nothing left: it reports no run.
    assert run_tick(second, SYNC, SYNC.every) is None
    assert run_tick(first, SYNC, SYNC.every) is None
    assert set(cluster.reads().values()) == {1}
    slot = slot_of(T0, SYNC.every)
    assert cluster.repos.job_runs.runs == {  # type: ignore[attr-defined]
        ("sync_calendars", slot): (first.delivery.owner, summary)}
    # Next slot: the second replica ticks first and does the work.
    cluster.clock.advance(SYNC.every)
    assert run_tick(second, SYNC, SYNC.every) == (
        "read 12 calendars (12 unchanged, 0 failed, 0 suspect), 0 coverage changes")
    assert set(cluster.reads().values()) == {2}


def test_items_a_dead_replica_held_are_taken_over_after_the_lease(cluster: Cluster) -> None:
    _, survivor = cluster.replicas
    work = cluster.repos.work_items
    slot = slot_of(T0, SYNC.every)
    # A replica enqueued the slot, claimed the first batch, and was killed.
    work.enqueue(job="sync_calendars", slot=slot, keys=OSCS, now=T0)
    held = work.claim(job="sync_calendars", owner="killed", now=T0, lease=CALENDARS.lease,
                      limit=CALENDARS.batch)
    assert len(held) == 8
    take_over = job("take_over_work")
    assert take_over.run(survivor) == "sync_calendars: 4 items taken over"
    cluster.clock.advance(CALENDARS.lease / 2)
    assert take_over.run(survivor) == "0 items taken over"
    assert sum(cluster.reads().values()) == 4
    cluster.clock.advance(CALENDARS.lease / 2 + timedelta(seconds=1))
    assert take_over.run(survivor) == "sync_calendars: 8 items taken over"
    assert set(cluster.reads().values()) == {1}
    assert work.pending(job="sync_calendars") == 0
    # The killed replica's late "done" is refused: the items are the survivor's now.
    assert work.done(held, now=cluster.clock.now()) == 0


def test_a_calendar_that_fails_to_apply_is_skipped_once_and_the_rest_synced() -> None:
    calendars = {osc: InMemoryCalendar() for osc in OSCS[:3]}
    calendars[GHOST] = InMemoryCalendar([Absence(
        datetime(2026, 12, 3, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC),
        AbsenceKind.OUT_OF_OFFICE, True, "Out of office", ("g1",))])
    cluster = Cluster(calendars)
    replica = cluster.replicas[0]
    summary = run_tick(replica, SYNC, SYNC.every)
    assert summary is not None and "read 3 calendars" in summary and "1 failed" in summary
    [skipped] = [e for e in cluster.repos.audit.list() if e.action == "job.item_skipped"]
    assert skipped.subject == f"calendar:{GHOST}"
    # Done for this slot, failed or not: no replica retries it until the next slot.
    assert cluster.repos.work_items.pending(job="sync_calendars") == 0
    assert run_tick(cluster.replicas[1], SYNC, SYNC.every) is None
    assert calendars[GHOST].reads == 1


def test_crm_sweeps_and_push_renewals_are_split_too(cluster: Cluster) -> None:
    replica = cluster.replicas[0]
    for osc in OSCS[:2]:
        replica.coverage.apply_calendar(osc_email=osc, absences=[Absence(
            T0 - timedelta(hours=1), T0 + timedelta(days=3), AbsenceKind.OUT_OF_OFFICE, True,
            "Out of office", (f"ooo-{osc}",))])
    replica.coverage.tick()
    active = cluster.repos.coverages.list(statuses=(CoverageStatus.ACTIVE,))
    assert len(active) == 2
    sweep = job("hand_over_crm_records")
    assert run_tick(replica, sweep, sweep.every) == "2 active coverages checked"
    work = cluster.repos.work_items
    assert isinstance(work, InMemoryWorkItems)
    assert sorted(k for (j, k, _) in work.rows if j == "hand_over_crm_records") == sorted(
        str(c.id) for c in active)
    assert run_tick(cluster.replicas[1], sweep, sweep.every) is None
    # Without a public address there is nothing to renew: no items, polling only.
    renew = job("renew_calendar_channels")
    assert "polling only" in (run_tick(replica, renew, renew.every) or "")
    assert not [k for k in work.rows if k[0] == "renew_calendar_channels"]


def test_old_inbound_ids_and_work_items_are_pruned(cluster: Cluster) -> None:
    replica = cluster.replicas[0]
    repos = cluster.repos
    repos.inbound.first_time(source="slack", event_id="Ev-old", now=T0)
    repos.work_items.enqueue(job="sync_calendars", slot=1, keys=["a"], now=T0)
    cluster.clock.advance(INBOUND_RETENTION + timedelta(minutes=1))
    repos.inbound.first_time(source="slack", event_id="Ev-new", now=cluster.clock.now())
    prune = job("prune_records")
    assert run_tick(replica, prune, prune.every) == (
        "pruned 1 inbound event ids and 1 work items")
    assert not repos.inbound.first_time(source="slack", event_id="Ev-new",
                                        now=cluster.clock.now())
    assert repos.inbound.first_time(source="slack", event_id="Ev-old", now=cluster.clock.now())


def test_the_on_demand_run_works_every_item_without_leases(cluster: Cluster) -> None:
    replica = cluster.replicas[0]
    assert SYNC.run(replica).startswith("read 12 calendars")
    assert cluster.repos.work_items.pending(job="sync_calendars") == 0
    assert set(cluster.reads().values()) == {1}
    assert isinstance(cluster.repos.work_items, InMemoryWorkItems)
    assert cluster.repos.work_items.rows == {}


def test_a_stopping_replica_claims_no_more_items(cluster: Cluster) -> None:
    replica = cluster.replicas[0]
    stopping = threading.Event()
    stopping.set()
    # The slot is claimed and its items enqueued, but none is taken: others work them.
    assert run_tick(replica, SYNC, SYNC.every, stopping=stopping) == (
        "read 0 calendars (0 unchanged, 0 failed, 0 suspect), 0 coverage changes")
    assert cluster.repos.work_items.pending(job="sync_calendars") == len(OSCS)
    assert sum(cluster.reads().values()) == 0
    assert job("take_over_work").run(cluster.replicas[1]) == (
        f"sync_calendars: {len(OSCS)} items taken over")


def test_a_batch_whose_storage_fails_is_handed_back_at_once(cluster: Cluster) -> None:
    from collections import Counter

    from schedules.items import Split, work_claimed

    class DatabaseDown(Exception):
        pass

    def broken(ctx: AppContext, keys: object) -> Counter[str]:
        raise DatabaseDown("connection refused")

    split = Split(keys=lambda ctx: ["a", "b"], work=broken, describe=lambda c, t: "",
                  batch=2)
    replica = cluster.replicas[0]
    cluster.repos.work_items.enqueue(job="demo", slot=1, keys=["a", "b"], now=T0)
    with pytest.raises(DatabaseDown):
        work_claimed(replica, "demo", split)
    # No waiting for the lease: another replica claims both at once.
    assert len(cluster.repos.work_items.claim(job="demo", owner="r2", now=T0,
                                              lease=split.lease, limit=5)) == 2
