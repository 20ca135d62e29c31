"""Slack gets its ack before a slow service has finished, and the answer still reaches
the person: through the command's response_url, or by DM for a form that had to close.

The services stand in for what takes seconds at scale: each call named is held until
the test lets it go, so the order (ack, then the service's end, then the answer) is
seen rather than timed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx

from bot.context import AppContext
from bot.model import AbsenceKind
from bot.ports.repositories import Repositories
from handlers.http.app import create_app
from handlers.slack.app import build_slack_app
from handlers.slack.listener import ACK_BUDGET
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.handlers.slack import test_app as shared
from tests.handlers.slack.test_app import (
    SECRET,
    T0,
    Server,
    command,
    leave_form,
    said_later,
    wait_for,
)

# The Bolt app tests' fake Web API (with the team's users) and context.
slack, ctx = shared.slack, shared.ctx
SLACK_ACK_LIMIT = 3.0


class Held:
    """A service whose named calls wait until `release` is set; the rest pass through."""

    def __init__(self, service: Any, *names: str) -> None:
        self._service = service
        self._names = names
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._service, name)
        if name not in self._names:
            return real

        def held(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            assert self.release.wait(20), "the test never let the call go"
            try:
                return real(*args, **kwargs)
            finally:
                self.finished.set()

        return held


@contextmanager
def serving(ctx: AppContext, slack: FakeSlack, held: Held) -> Iterator[str]:
    """The Slack app over loopback HTTP with the coverage service held."""
    slow = replace(ctx, coverage=held)
    app = build_slack_app(slow, token=TOKEN, signing_secret=SECRET, api_url=slack.url)
    try:
        with Server(create_app(slow, lead_secret=None, slack=app)) as base:
            yield base
    finally:
        held.release.set()


def timed(send: Any) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    answer = send()
    return answer, time.monotonic() - began


def test_a_command_is_acked_before_its_service_finishes_and_answered_after(
        ctx: AppContext, slack: FakeSlack) -> None:
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0, end=T0 + timedelta(days=2),
                         kind=AbsenceKind.SICK, actor="maria@rh.example", emergency=True)
    held = Held(ctx.coverage, "im_back")
    with serving(ctx, slack, held) as base:
        url = slack.response_url()
        answer, took = timed(lambda: command(base, "/im-back", "UMARIA", response_url=url))
        # Acked, saying nothing yet: the service was started and is still held.
        assert answer.status_code == 200 and not answer.content
        assert held.entered.wait(5)
        assert not held.finished.is_set() and not slack.responses(url)
        held.release.set()
        assert "Welcome back, Maria" in said_later(slack, url)
    assert took < SLACK_ACK_LIMIT


def test_a_slow_coverage_answer_comes_after_an_ack_within_the_budget(
        ctx: AppContext, slack: FakeSlack) -> None:
    held = Held(ctx.coverage, "open_coverages")
    with serving(ctx, slack, held) as base:
        url = slack.response_url()
        answer, took = timed(lambda: command(base, "/coverage", "USAM", response_url=url))
        assert answer.status_code == 200 and not answer.content
        assert held.entered.is_set() and not held.finished.is_set()
        assert ACK_BUDGET * 0.9 <= took < SLACK_ACK_LIMIT
        held.release.set()
        assert "Everyone is in" in said_later(slack, url)


def test_a_form_the_service_is_slow_with_closes_in_time_and_the_outcome_comes_by_dm(
        ctx: AppContext, slack: FakeSlack, repos: Repositories) -> None:
    def dms(words: str) -> list[str]:
        return [c["text"] for c in slack.calls("chat.postMessage")
                if c["channel"] == "DUMARIA" and words in c["text"]]

    held = Held(ctx.coverage, "declare")
    with serving(ctx, slack, held) as base:
        answer, took = timed(lambda: leave_form(base, "2026-12-01", "2026-12-05"))
        # Closed (an empty ack) while the coverage is still being planned.
        assert answer.status_code == 200 and not answer.content
        assert not held.finished.is_set() and repos.coverages.list() == []
        assert took < SLACK_ACK_LIMIT
        held.release.set()
        wait_for(lambda: dms("Coverage planned"))
        assert len(repos.coverages.list(osc_email="maria@rh.example")) == 1

        # Refused after the form closed: said by DM, in the words a typed command gets.
        held.release.clear()
        held.finished.clear()
        overlapping = leave_form(base, "2026-12-03", "2026-12-08")
        assert overlapping.status_code == 200 and not overlapping.content
        held.release.set()
        wait_for(lambda: dms("Sorry — Maria already has coverage"))
    assert len(repos.coverages.list(osc_email="maria@rh.example")) == 1


class Broken:
    """A service whose named calls fail the way a bug or a lost database would."""

    def __init__(self, service: Any, *names: str) -> None:
        self._service = service
        self._names = names

    def __getattr__(self, name: str) -> Any:
        if name not in self._names:
            return getattr(self._service, name)

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the database went away")

        return broken


def test_a_command_that_fails_after_its_ack_still_tells_the_person(
        ctx: AppContext, slack: FakeSlack) -> None:
    ctx.coverage.declare(osc_email="maria@rh.example", start=T0, end=T0 + timedelta(days=2),
                         kind=AbsenceKind.SICK, actor="maria@rh.example", emergency=True)
    broken = replace(ctx, coverage=Broken(ctx.coverage, "im_back"))
    app = build_slack_app(broken, token=TOKEN, signing_secret=SECRET, api_url=slack.url)
    with Server(create_app(broken, lead_secret=None, slack=app)) as base:
        url = slack.response_url()
        answer = command(base, "/im-back", "UMARIA", response_url=url)
        assert answer.status_code == 200 and not answer.content
        told = said_later(slack, url)
    assert "That did not work: something unexpected went wrong" in told
    assert "database" not in told  # the error's own words stay in the logs
