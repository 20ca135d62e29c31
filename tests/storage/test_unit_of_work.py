"""The unit of work on every backend: a state change and its messages commit together or
not at all; a duplicate inside a transaction leaves the rest of it intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.messages import Message
from bot.model import Lead
from bot.ports import OutboxItem, OutboxStatus, Repositories

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
    assert repos.outbox.claim(owner="r1", now=T0, lease=lease, limit=5) == [
        "dm:maria@rh.example"]
    assert repos.outbox.claim(owner="r2", now=T0, lease=lease, limit=5) == []
    head = repos.outbox.head("dm:maria@rh.example")
    assert head is not None and head.key == "c-1"
    assert repos.outbox.begin_attempt(head, owner="r2", now=T0) is None
    started = repos.outbox.begin_attempt(head, owner="r1", now=T0)
    assert started is not None and started.in_flight and started.attempts == 1
    repos.outbox.release("dm:maria@rh.example", owner="r1", now=T0,
                         next_send_at=T0 + timedelta(seconds=1))
    assert repos.outbox.claim(owner="r2", now=T0, lease=lease, limit=5) == []
    later = T0 + timedelta(seconds=1)
    assert repos.outbox.claim(owner="r2", now=later, lease=lease, limit=5) == [
        "dm:maria@rh.example"]
    assert repos.outbox.claim(owner="r3", now=later + lease + timedelta(seconds=1),
                              lease=lease, limit=5) == ["dm:maria@rh.example"]
    assert repos.job_runs.claim(job="sweep", slot=7, owner="r1", now=T0)
    assert not repos.job_runs.claim(job="sweep", slot=7, owner="r2", now=T0)
    assert repos.inbound.first_time(source="slack", event_id="Ev1", now=T0)
    assert not repos.inbound.first_time(source="slack", event_id="Ev1", now=T0)
