"""The unit of work on every backend: a state change and its messages commit together or
not at all; a duplicate inside a transaction leaves the rest of it intact."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.delivery.notify import priority_of
from bot.messages import Message
from bot.model import Lead
from bot.ports.chat import MessageRef
from bot.ports.delivery import OutboxItem, OutboxStatus
from bot.ports.repositories import Repositories
from storage import rows
from storage.tables import OutboxRow

T0 = datetime(2026, 11, 30, 15, tzinfo=UTC)


def lead(external_id: str) -> Lead:
    return Lead(id=None, source="web", external_id=external_id, name="Pat", email=None,
                phone="+15125550100", community="Riverside", message="", received_at=T0,
                owner_email="maria@rh.example", assigned_to="maria@rh.example",
                assignment_reason="test")


def card(key: str) -> OutboxItem:
    return OutboxItem(id=None, key=key, target_kind="direct", target="maria@rh.example",
                      message=Message("new lead"), status=OutboxStatus.PENDING, created_at=T0)


def test_a_failure_rolls_back_the_lead_and_its_dm(repos: Repositories) -> None:
    with pytest.raises(RuntimeError), repos.tx.atomic():
        repos.leads.add(lead("a-1"))
        repos.outbox.enqueue(card("lead-card:a-1"))
        raise RuntimeError("crash before commit")
    assert repos.leads.list() == [] and repos.outbox.get("lead-card:a-1") is None


def test_a_duplicate_inside_a_transaction_keeps_the_rest(repos: Repositories) -> None:
    repos.leads.add(lead("b-1"))
    with repos.tx.atomic():
        _, created = repos.leads.add(lead("b-1"))
        repos.outbox.enqueue(card("other"))
        with repos.tx.atomic():  # nested: joins the outer one
            repos.outbox.enqueue(card("nested"))
    assert not created
    assert repos.outbox.get("other") is not None and repos.outbox.get("nested") is not None


def test_conversation_leases_and_in_flight_marks(repos: Repositories) -> None:
    repos.outbox.enqueue(card("c-1"))
    repos.outbox.enqueue(card("c-2"))
    lease = timedelta(seconds=60)
    [claim] = repos.outbox.claim(owner="r1", now=T0, lease=lease, limit=5)
    assert claim.item.key == "c-1" and claim.item.conversation == "dm:maria@rh.example"
    assert claim.item.in_flight and claim.item.attempts == 1 and not claim.unsure
    assert claim.item.first_tried_at == T0 and claim.lease_until == T0 + lease
    assert repos.outbox.claim(owner="r2", now=T0, lease=lease, limit=5) == []
    stored = repos.outbox.get("c-1")
    assert stored is not None and stored.in_flight and stored.attempts == 1
    sent = dataclasses.replace(claim.item, status=OutboxStatus.SENT, in_flight=False,
                               ref=MessageRef("D1", "1.0"), sent_at=T0)
    repos.outbox.release("dm:maria@rh.example", owner="r1", now=T0,
                         next_send_at=T0 + timedelta(seconds=1), done=[sent])
    assert repos.outbox.get("c-1") == sent
    assert repos.outbox.claim(owner="r2", now=T0, lease=lease, limit=5) == []
    later = T0 + timedelta(seconds=1)
    [second] = repos.outbox.claim(owner="r2", now=later, lease=lease, limit=5)
    assert second.item.key == "c-2" and not second.unsure
    # r2 dies mid-send: r3 takes over once the lease runs out, unsure whether it arrived.
    [taken] = repos.outbox.claim(owner="r3", now=later + lease + timedelta(seconds=1),
                                 lease=lease, limit=5)
    assert taken.item.key == "c-2" and taken.unsure and taken.item.attempts == 2
    assert taken.item.first_tried_at == later
    repos.outbox.release("dm:maria@rh.example", owner="r2", now=later, next_send_at=None)
    assert repos.outbox.claim(owner="r4", now=later + lease + timedelta(seconds=2),
                              lease=lease, limit=5) == []  # r2's release did not free it
    assert repos.job_runs.claim(job="sweep", slot=7, owner="r1", now=T0)
    assert not repos.job_runs.claim(job="sweep", slot=7, owner="r2", now=T0)
    assert repos.inbound.first_time(source="slack", event_id="Ev1", now=T0)
    assert not repos.inbound.first_time(source="slack", event_id="Ev1", now=T0)


def post(key: str, channel: str, at: datetime) -> OutboxItem:
    return OutboxItem(id=None, key=key, target_kind="channel", target=channel,
                      message=Message(key), status=OutboxStatus.PENDING, created_at=at,
                      priority=priority_of(key))


def as_sent(item: OutboxItem) -> OutboxItem:
    return dataclasses.replace(item, status=OutboxStatus.SENT, in_flight=False)


def busy_channel(repos: Repositories, messages: int) -> OutboxItem:
    """`messages` posts queued for C-busy; r1 leased it and sent the first: returned."""
    for n in range(messages):
        repos.outbox.enqueue(post(f"busy:{n}", "C-busy", T0))
    [busy] = repos.outbox.claim(owner="r1", now=T0, lease=timedelta(seconds=60), limit=1)
    return as_sent(busy.item)


def test_claims_go_urgent_first_then_by_how_long_a_conversation_was_ready(
        repos: Repositories) -> None:
    lease = timedelta(seconds=60)
    sent = busy_channel(repos, 3)
    repos.outbox.release("C-busy", owner="r1", now=T0, done=[sent],
                         next_send_at=T0 + timedelta(seconds=1))
    # Queued after the busy channel was last served, but ready before its next turn.
    repos.outbox.enqueue(post("digest:1", "C-quiet", T0 + timedelta(milliseconds=500)))
    repos.outbox.enqueue(post("reminder:1", "C-late", T0 + timedelta(milliseconds=1500)))
    repos.outbox.enqueue(dataclasses.replace(
        card("lead-card:9"), created_at=T0 + timedelta(milliseconds=1800),
        priority=priority_of("lead-card:9")))
    now = T0 + timedelta(seconds=2)
    order = [c.item.key for c in repos.outbox.claim(owner="r2", now=now, lease=lease,
                                                     limit=4)]
    assert order == ["lead-card:9", "digest:1", "busy:1", "reminder:1"]


def test_a_kept_lease_claims_the_next_run_and_gives_back_what_was_not_tried(
        repos: Repositories) -> None:
    lease = timedelta(seconds=60)
    sent = busy_channel(repos, 6)
    # Someone else's lease is not kept: nothing is claimed, nothing stolen.
    assert repos.outbox.keep_or_release("C-busy", owner="r2", now=T0, lease=lease,
                                        next_send_at=T0, done=[sent], limit=3) == []
    assert repos.outbox.claim(owner="r2", now=T0, lease=lease, limit=5) == []
    run = repos.outbox.keep_or_release("C-busy", owner="r1", now=T0, lease=lease,
                                       next_send_at=T0, done=[sent], limit=3)
    assert [c.item.key for c in run] == ["busy:1", "busy:2", "busy:3"]
    assert all(c.item.in_flight and c.item.attempts == 1 and not c.unsure for c in run)
    assert repos.outbox.get("busy:0") == sent
    assert repos.outbox.claim(owner="r2", now=T0, lease=lease, limit=5) == []  # still ours
    # busy:1 went out, busy:2 was refused for now, busy:3 was never tried.
    refused = dataclasses.replace(run[1].item, in_flight=False,
                                  next_attempt_at=T0 + timedelta(seconds=3))
    done = [as_sent(run[0].item), refused]
    repos.outbox.release("C-busy", owner="r1", now=T0, next_send_at=T0 + timedelta(seconds=3),
                         done=done, unsent=[run[2]])
    untried = repos.outbox.get("busy:3")
    assert untried is not None and untried.attempts == 0 and not untried.in_flight
    later = T0 + timedelta(seconds=3)
    [again] = repos.outbox.claim(owner="r2", now=later, lease=lease, limit=5)
    assert again.item.key == "busy:2" and not again.unsure and again.item.attempts == 2
    # A run stops at the first message that may not go yet (order is kept).
    waiting = repos.outbox.get("busy:4")
    assert waiting is not None
    repos.outbox.save(dataclasses.replace(waiting, next_attempt_at=later + lease))
    run = repos.outbox.keep_or_release("C-busy", owner="r2", now=later, lease=lease,
                                       next_send_at=later, done=[as_sent(again.item)],
                                       limit=8)
    assert [c.item.key for c in run] == ["busy:3"]


def test_a_pause_holds_claims_of_its_scope_in_every_replica(repos: Repositories) -> None:
    lease = timedelta(seconds=60)
    repos.outbox.enqueue(card("lead-card:1"))
    repos.outbox.enqueue(post("brief:1", "C-team", T0))
    repos.outbox.pause("direct", until=T0 + timedelta(seconds=30))
    repos.outbox.pause("direct", until=T0 + timedelta(seconds=10))  # the later one holds
    [brief] = repos.outbox.claim(owner="r1", now=T0, lease=lease, limit=5)
    assert brief.item.key == "brief:1"
    assert repos.outbox.claim(owner="r2", now=T0 + timedelta(seconds=29), lease=lease,
                              limit=5) == []
    [dm] = repos.outbox.claim(owner="r2", now=T0 + timedelta(seconds=30), lease=lease,
                              limit=5)
    assert dm.item.key == "lead-card:1"


def test_an_unsent_message_is_rewritten_only_until_a_deliverer_touches_it(
        repos: Repositories) -> None:
    repos.outbox.enqueue(card("lead-card:5"))
    assert repos.outbox.rewrite_unsent("lead-card:5", Message("New lead — called"))
    stored = repos.outbox.get("lead-card:5")
    assert stored is not None and stored.message.text == "New lead — called"
    [claimed] = repos.outbox.claim(owner="r1", now=T0, lease=timedelta(seconds=60), limit=1)
    assert claimed.item.key == "lead-card:5"
    # Claimed (in flight): a rewrite now could undo the send's record, so it is refused.
    assert not repos.outbox.rewrite_unsent("lead-card:5", Message("New lead — not a lead"))
    assert not repos.outbox.rewrite_unsent("no-such-key", Message("x"))
    still = repos.outbox.get("lead-card:5")
    assert still is not None and still.message.text == "New lead — called"


def test_a_unit_of_work_reads_what_claim_and_release_just_wrote(
        backend: tuple[str, Repositories, Engine | None]) -> None:
    # Claims and releases are core statements, outside the ORM session: a unit of work
    # that holds the row's ORM copy must not hand back the old values afterwards.
    _, repos, engine = backend
    repos.outbox.enqueue(card("d-1"))
    lease = timedelta(seconds=60)
    with repos.tx.atomic():
        before = repos.outbox.get("d-1")
        assert before is not None and not before.in_flight and before.attempts == 0
        held: Any = None
        if engine is not None:
            with rows.unit(engine) as session:  # the unit of work's copy, kept alive
                held = session.get(OutboxRow, before.id)
        [claim] = repos.outbox.claim(owner="r1", now=T0, lease=lease, limit=5)
        claimed = repos.outbox.get("d-1")
        assert claimed is not None and claimed.in_flight and claimed.attempts == 1
        assert claimed.first_tried_at == T0
        sent = dataclasses.replace(claim.item, status=OutboxStatus.SENT, in_flight=False,
                                   ref=MessageRef("D1", "1.0"), sent_at=T0)
        repos.outbox.release(claim.item.conversation, owner="r1", now=T0,
                             next_send_at=T0 + timedelta(seconds=1), done=[sent])
        assert repos.outbox.get("d-1") == sent
        assert repos.outbox.pending() == []
        if held is not None:
            assert held.status == OutboxStatus.SENT.value and held.ref_id == "1.0"
    assert repos.outbox.get("d-1") == sent


def test_a_conversation_first_queued_in_a_rolled_back_unit_is_still_delivered_later(
        repos: Repositories) -> None:
    # A conversation's lease row is remembered only once committed: after a rollback
    # the next message to it must create the row again, or no claim would ever see it.
    with pytest.raises(RuntimeError), repos.tx.atomic():
        repos.outbox.enqueue(card("e-1"))
        repos.outbox.enqueue(card("e-2"))  # the same conversation twice in one unit
        raise RuntimeError("crash before commit")
    repos.outbox.enqueue(card("e-3"))
    repos.outbox.enqueue(card("e-4"))
    [claim] = repos.outbox.claim(owner="r1", now=T0, lease=timedelta(seconds=60), limit=5)
    assert claim.item.key == "e-3"
    assert [i.key for i in repos.outbox.pending()] == ["e-3", "e-4"]
