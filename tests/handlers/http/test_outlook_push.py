"""Graph change notifications end to end over real HTTP: oscbot's server (uvicorn on
loopback) and the fake Graph, which runs the validation handshake and posts change and
lifecycle notifications the way Graph does."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import httpx
import pytest

from bot.context import AppContext
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from calendars.outlook import OutlookCalendarSource
from calendars.outlook_push import Subscription
from handlers.http.app import create_app
from handlers.wiring import build_context
from schedules.jobs import job
from tests.conftest import make_config
from tests.fakes.graph import FakeGraph, graph_client
from tests.processes import ServedApp, free_port

MARIA, ALEX = "maria@rh.example", "alex@rh.example"
NOW = datetime(2026, 11, 30, 14, tzinfo=UTC)


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def world() -> Iterator[tuple[AppContext, FakeGraph, FixedClock]]:
    clock = FixedClock(NOW)
    with FakeGraph() as graph:
        graph.now = clock.now
        client = graph_client(graph)
        config = make_config()
        sources = {}
        for osc in (MARIA, ALEX):
            graph.mailbox(osc)
            sources[osc] = OutlookCalendarSource(client=client, mailbox=osc,
                                                 time_zone="America/Chicago",
                                                 policies=config.policies)
        port = free_port()
        ctx = build_context(config=config, repos=in_memory_repositories(), clock=clock,
                            chat=RecordingChat(), sources=sources,
                            public_url=f"http://127.0.0.1:{port}")
        with ServedApp(create_app(ctx, lead_secret=None), port=port, name="oscbot app"):
            yield ctx, graph, clock


def subscription(ctx: AppContext, osc: str) -> Subscription:
    state = ctx.calendars.state(osc)
    sub = Subscription.from_cursor(osc, state.cursor) if state else None
    assert sub is not None
    return sub


def syncs(graph: FakeGraph, osc: str) -> int:
    return len([r for r in graph.api("GET")
                if unquote(r.path) == f"/v1.0/users/{osc}/calendarView/delta"])


def test_subscriptions_are_validated_created_and_renewed(
        world: tuple[AppContext, FakeGraph, FixedClock]) -> None:
    ctx, graph, clock = world
    renew = job("renew_outlook_subscriptions")
    assert renew.run(ctx) == "2 Outlook subscriptions created or renewed"
    # Graph proved both endpoints of both subscriptions before creating them.
    assert sorted(set(graph.handshakes)) == [ctx.public_url + "/calendar/outlook/lifecycle",
                                            ctx.public_url + "/calendar/outlook/notifications"]
    created = [r.body for r in graph.writes()]
    assert {b["resource"] for b in created} == {f"/users/{MARIA}/events", f"/users/{ALEX}/events"}
    assert all(b["changeType"] == "created,updated,deleted" for b in created)
    maria = subscription(ctx, MARIA)
    assert timedelta(days=6, hours=23) < maria.expires_at - NOW <= timedelta(minutes=10080)
    assert renew.run(ctx) == "0 Outlook subscriptions created or renewed"
    clock.set(maria.expires_at - timedelta(hours=6))
    assert renew.run(ctx) == "2 Outlook subscriptions created or renewed"
    assert [r.method for r in graph.writes()][-2:] == ["PATCH", "PATCH"]
    assert subscription(ctx, MARIA).expires_at > maria.expires_at
    assert "polling only" in renew.run(dataclasses.replace(ctx, push={}, public_url=None))


def test_validation_handshake_echoes_the_token_as_plain_text(
        world: tuple[AppContext, FakeGraph, FixedClock]) -> None:
    ctx, _, _ = world
    answer = httpx.post(f"{ctx.public_url}/calendar/outlook/notifications",
                        params={"validationToken": "Validation: <b>token</b> 1"})
    assert answer.status_code == 200 and answer.text == "Validation: <b>token</b> 1"
    assert answer.headers["content-type"].startswith("text/plain")


def test_a_notification_syncs_that_mailbox_only_and_forgeries_do_nothing(
        world: tuple[AppContext, FakeGraph, FixedClock]) -> None:
    ctx, graph, _ = world
    job("renew_outlook_subscriptions").run(ctx)
    maria = subscription(ctx, MARIA)
    assert graph.notify(maria.id) == 202
    eventually(lambda: getattr(ctx.calendars.state(MARIA), "last_good_at", None)
               == NOW)
    assert syncs(graph, MARIA) == 1 and syncs(graph, ALEX) == 0
    requests_before = len(graph.requests)
    assert graph.notify(maria.id, client_state="guessed") == 403
    forged = {"value": [{"subscriptionId": "sub-unknown", "clientState": maria.client_state,
                         "changeType": "updated", "resource": f"Users/{MARIA}/Events/x"}]}
    url = f"{ctx.public_url}/calendar/outlook/notifications"
    assert httpx.post(url, json=forged).status_code == 403
    assert httpx.post(url, content=b"not json").status_code == 403
    time.sleep(0.2)
    assert len(graph.requests) == requests_before


def test_lifecycle_notifications_keep_the_flow_alive(
        world: tuple[AppContext, FakeGraph, FixedClock]) -> None:
    ctx, graph, _ = world
    job("renew_outlook_subscriptions").run(ctx)
    maria = subscription(ctx, MARIA)
    assert graph.lifecycle(maria.id, "reauthorizationRequired") == 202
    eventually(lambda: any(r.method == "PATCH" for r in graph.writes()))
    assert graph.lifecycle(maria.id, "missed") == 202
    eventually(lambda: getattr(ctx.calendars.state(MARIA), "last_good_at", None)
               == NOW)
    assert graph.lifecycle(maria.id, "subscriptionRemoved") == 202
    eventually(lambda: subscription(ctx, MARIA).id != maria.id)
    renewed = subscription(ctx, MARIA)
    assert renewed.id in graph.subscriptions and maria.id not in graph.subscriptions
    assert syncs(graph, ALEX) == 0
