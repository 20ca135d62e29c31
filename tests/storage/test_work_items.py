"""Work item leases and inbound retention: the same rules in memory, on SQLite and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.ports.jobs import WorkItem
from bot.ports.repositories import Repositories

T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
LEASE = timedelta(seconds=30)
JOB = "sync_calendars"


def keys(items: Sequence[WorkItem]) -> list[str]:
    return [i.key for i in items]


def test_each_item_is_leased_to_one_replica_and_done_once_per_slot(repos: Repositories) -> None:
    work = repos.work_items
    assert work.enqueue(job=JOB, slot=1, keys=["a", "b", "c", "a"], now=T0) == 3
    # A second replica enqueueing the same slot adds nothing.
    assert work.enqueue(job=JOB, slot=1, keys=["a", "b", "c"], now=T0) == 0
    first = work.claim(job=JOB, owner="r1", now=T0, lease=LEASE, limit=2)
    second = work.claim(job=JOB, owner="r2", now=T0, lease=LEASE, limit=2)
    assert keys(first) == ["a", "b"] and keys(second) == ["c"]
    assert {i.owner for i in first} == {"r1"} and second[0].lease_until == T0 + LEASE
    assert work.claim(job=JOB, owner="r3", now=T0, lease=LEASE, limit=5) == []
    assert work.done(first + second, now=T0) == 3
    assert work.pending(job=JOB) == 0
    # Enqueued again in the same slot (a late replica): done items stay done.
    assert work.enqueue(job=JOB, slot=1, keys=["a", "b", "c"], now=T0) == 0
    assert work.claim(job=JOB, owner="r3", now=T0 + timedelta(hours=1), lease=LEASE,
                      limit=5) == []
    # Another job's items are its own.
    work.enqueue(job="other", slot=1, keys=["a"], now=T0)
    assert keys(work.claim(job="other", owner="r1", now=T0, lease=LEASE, limit=5)) == ["a"]


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_finish_it(
        repos: Repositories) -> None:
    work = repos.work_items
    work.enqueue(job=JOB, slot=1, keys=["a", "b"], now=T0)
    dead = work.claim(job=JOB, owner="dead", now=T0, lease=LEASE, limit=2)
    assert work.claim(job=JOB, owner="r2", now=T0 + LEASE, lease=LEASE, limit=5) == []
    later = T0 + LEASE + timedelta(seconds=1)
    taken = work.claim(job=JOB, owner="r2", now=later, lease=LEASE, limit=5)
    assert keys(taken) == ["a", "b"] and {i.owner for i in taken} == {"r2"}
    assert work.done(dead, now=later) == 0
    assert work.pending(job=JOB) == 2
    assert work.done(taken, now=later) == 2
    assert work.pending(job=JOB) == 0


def test_a_released_item_is_claimable_at_once(repos: Repositories) -> None:
    work = repos.work_items
    work.enqueue(job=JOB, slot=1, keys=["a"], now=T0)
    held = work.claim(job=JOB, owner="r1", now=T0, lease=LEASE, limit=1)
    work.release(held)
    assert keys(work.claim(job=JOB, owner="r2", now=T0, lease=LEASE, limit=1)) == ["a"]
    # Releasing what another replica now holds changes nothing.
    work.release(held)
    assert work.claim(job=JOB, owner="r3", now=T0, lease=LEASE, limit=1) == []


def test_a_newer_slot_replaces_an_unfinished_item_but_waits_for_a_live_lease(
        repos: Repositories) -> None:
    work = repos.work_items
    work.enqueue(job=JOB, slot=1, keys=["a", "b"], now=T0)
    [held_a] = work.claim(job=JOB, owner="r1", now=T0, lease=LEASE, limit=1)
    later = T0 + timedelta(seconds=10)
    work.enqueue(job=JOB, slot=2, keys=["a", "b"], now=later)
    # "b" of slot 1 is never worked now that slot 2 has it; "a" waits while r1 holds it.
    claimed = work.claim(job=JOB, owner="r2", now=later, lease=LEASE, limit=5)
    assert [(i.key, i.slot) for i in claimed] == [("b", 2)]
    assert work.pending(job=JOB) == 2  # "a" and "b" of slot 2
    assert work.done([held_a], now=later) == 1
    assert [(i.key, i.slot) for i in work.claim(job=JOB, owner="r2", now=later, lease=LEASE,
                                                limit=5)] == [("a", 2)]


def test_old_items_are_pruned(repos: Repositories) -> None:
    work = repos.work_items
    work.enqueue(job=JOB, slot=1, keys=["a", "b"], now=T0)
    work.enqueue(job=JOB, slot=2, keys=["a"], now=T0 + timedelta(days=2))
    assert work.prune(before=T0 + timedelta(days=1)) == 2
    assert work.pending(job=JOB) == 1


def test_inbound_ids_are_forgotten_on_request_and_pruned_by_age(repos: Repositories) -> None:
    inbound = repos.inbound
    assert inbound.first_time(source="slack", event_id="Ev1", now=T0)
    assert inbound.first_time(source="slack-interaction", event_id="view:V1", now=T0)
    inbound.forget(source="slack-interaction", event_id="view:V1")
    assert inbound.first_time(source="slack-interaction", event_id="view:V1",
                              now=T0 + timedelta(days=3))
    assert inbound.prune(before=T0 + timedelta(days=2)) == 1
    # Pruned: an id seen long ago counts as new (Slack never retries that late).
    assert inbound.first_time(source="slack", event_id="Ev1", now=T0 + timedelta(days=3))
    assert not inbound.first_time(source="slack-interaction", event_id="view:V1",
                                  now=T0 + timedelta(days=3))


def test_a_long_inbound_id_once_forgotten_is_accepted_again(repos: Repositories) -> None:
    inbound = repos.inbound
    # Ids are built from what the platform sends and may outgrow the column (200): a form
    # submission whose handling failed is forgotten so that sending it again works.
    long_id = "view:U1:" + "V" * 300
    assert inbound.first_time(source="slack-interaction", event_id=long_id, now=T0)
    assert not inbound.first_time(source="slack-interaction", event_id=long_id, now=T0)
    inbound.forget(source="slack-interaction", event_id=long_id)
    assert inbound.first_time(source="slack-interaction", event_id=long_id,
                              now=T0 + timedelta(minutes=1))
    assert not inbound.first_time(source="slack-interaction", event_id=long_id,
                                  now=T0 + timedelta(minutes=1))
