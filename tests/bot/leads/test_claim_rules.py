"""Claim rules at the service: the owner unless away, eligible backups, a manager's choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.leads.service import NewLead
from bot.model import AbsenceKind
from bot.ports.repositories import Repositories
from handlers.wiring import build_context

T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)


@pytest.fixture
def ctx(config: AppConfig, repos: Repositories, clock: FixedClock) -> AppContext:
    clock.set(T0)
    return build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                         sources={}, sleep=lambda _: None)


def a_lead(ctx: AppContext) -> int:
    lead, _ = ctx.leads.receive(NewLead(source="web", external_id="c-1", name="Pat",
                                        email=None, phone="+15125550100",
                                        community="Riverside", message="", received_at=T0))
    assert lead.id is not None
    return lead.id


def test_a_manager_may_give_the_lead_to_anyone_on_the_team(ctx: AppContext) -> None:
    lead_id = a_lead(ctx)
    given = ctx.leads.claim(lead_id=lead_id, by="dana@rh.example", assign_to="priya@rh.example")
    assert given.assigned_to == "priya@rh.example"
    assert given.assignment_reason == "assigned by manager dana@rh.example"
    with pytest.raises(InvalidInput):
        ctx.leads.claim(lead_id=lead_id, by="dana@rh.example", assign_to="x@else.example")
    with pytest.raises(NotAllowed, match="only a manager"):
        ctx.leads.claim(lead_id=lead_id, by="jordan@rh.example", assign_to="sam@rh.example")


def test_the_owner_takes_it_back_unless_away(ctx: AppContext) -> None:
    lead_id = a_lead(ctx)
    ctx.leads.claim(lead_id=lead_id, by="jordan@rh.example")
    assert ctx.leads.claim(lead_id=lead_id, by="maria@rh.example").assigned_to == \
        "maria@rh.example"
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0 - timedelta(hours=1),
                         end=T0 + timedelta(days=2), kind=AbsenceKind.VACATION,
                         actor="maria@rh.example")
    with pytest.raises(NotAllowed, match="you are away"):
        ctx.leads.claim(lead_id=lead_id, by="maria@rh.example")


def test_a_backup_at_capacity_cannot_claim(ctx: AppContext) -> None:
    ids = [ctx.leads.receive(NewLead(
        source="web", external_id=f"j-{n}", name="Pat", email=None, phone="+15125550100",
        community="Riverside", message="", received_at=T0))[0].id or 0 for n in range(3)]
    ctx.leads.claim(lead_id=ids[0], by="jordan@rh.example")
    ctx.leads.claim(lead_id=ids[1], by="jordan@rh.example")
    with pytest.raises(NotAllowed, match="at capacity"):  # Jordan takes at most 2
        ctx.leads.claim(lead_id=ids[2], by="jordan@rh.example")
