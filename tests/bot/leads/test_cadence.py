"""Cadence offsets and coverage protection edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config.model import Policies
from bot.leads import cadence

FIRST = datetime(2026, 11, 2, 15, tzinfo=UTC)
P = Policies()


def test_steps_follow_the_policy_then_nurture() -> None:
    dues = [cadence.due_for(n, first_contact_at=FIRST, policies=P) - FIRST for n in range(5)]
    assert dues == [timedelta(hours=24), timedelta(days=3), timedelta(days=7),
                    timedelta(days=97), timedelta(days=187)]
    assert cadence.title_for(1, lead_name="Pat", policies=P) == (
        "Follow up with Pat (second follow-up)")
    assert cadence.title_for(3, lead_name="Pat", policies=P) == "Nurture check-in with Pat"


def test_next_step_is_never_sooner_than_tomorrow() -> None:
    late = FIRST + timedelta(days=6, hours=23)
    assert cadence.next_due(1, first_contact_at=FIRST, done_at=late, policies=P) == (
        late + timedelta(days=1))
    early = FIRST + timedelta(hours=25)
    assert cadence.next_due(0, first_contact_at=FIRST, done_at=early, policies=P) == (
        FIRST + timedelta(days=3))


def test_protection_edges() -> None:
    seven = P.coverage_protection
    state = cadence.protection
    assert state(last_two_way_at=None, now=FIRST, policies=P) is None
    assert state(last_two_way_at=FIRST, now=FIRST + seven - timedelta(days=1, seconds=1),
                 policies=P) is cadence.Protection.PROTECTED
    assert state(last_two_way_at=FIRST, now=FIRST + seven - timedelta(days=1),
                 policies=P) is cadence.Protection.EXPIRING
    assert state(last_two_way_at=FIRST, now=FIRST + seven,
                 policies=P) is cadence.Protection.LAPSED
