"""Waking delivery after an intake commit: outside the request, kicks coalesced."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from handlers.http.leads import Kicker


def test_kicks_asked_while_one_is_queued_are_one_and_a_later_one_runs_again() -> None:
    calls: list[int] = []
    kicked = [threading.Event(), threading.Event()]
    release = threading.Event()

    def kick() -> None:
        calls.append(len(calls) + 1)
        kicked[len(calls) - 1].set()

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(release.wait, 10)  # the only worker is busy: kicks stay queued
            kicker = Kicker(kick, executor=pool)
            for _ in range(5):  # five commits before a worker picked the kick up
                kicker()
            release.set()
            assert await asyncio.to_thread(kicked[0].wait, 10)
            kicker()  # a commit after that kick read the outbox needs one of its own
            assert await asyncio.to_thread(kicked[1].wait, 10)

    asyncio.run(scenario())
    assert calls == [1, 2]


def test_a_failing_kick_does_not_stop_later_ones() -> None:
    done = threading.Event()
    calls: list[str] = []

    def kick() -> None:
        calls.append("kick")
        if len(calls) == 1:
            raise RuntimeError("delivery unavailable")
        done.set()

    async def scenario() -> None:
        kicker = Kicker(kick)
        kicker()
        while not calls:
            await asyncio.sleep(0.01)
        kicker()
        assert await asyncio.to_thread(done.wait, 10)

    asyncio.run(scenario())
    assert calls == ["kick", "kick"]


def test_a_running_delivery_loop_is_woken_in_place_and_its_next_claim_sends() -> None:
    from datetime import UTC, datetime

    from bot.delivery.deliverer import OutboxDelivery
    from bot.delivery.notify import Notifier
    from bot.fakes.chat import RecordingChat
    from bot.fakes.clock import FixedClock
    from bot.fakes.repositories import in_memory_repositories
    from bot.messages import Message

    repos = in_memory_repositories()
    clock = FixedClock(datetime(2026, 12, 1, 15, tzinfo=UTC))
    chat = RecordingChat()
    delivery = OutboxDelivery(outbox=repos.outbox, chat=chat, clock=clock)
    notifier = Notifier(outbox=repos.outbox, clock=clock, channel="C1")
    kicks: list[str] = []
    stop = threading.Event()
    loop = threading.Thread(target=delivery.run, args=(stop,), kwargs={"poll": 60.0})
    loop.start()
    try:
        while not delivery.wake():  # the loop has started and waits for work
            threading.Event().wait(0.01)

        async def scenario() -> None:
            # No executor would ever run a kick: only the in-place wake can deliver.
            with ThreadPoolExecutor(1) as pool:
                blocked = threading.Event()
                pool.submit(blocked.wait, 10)
                kicker = Kicker(lambda: kicks.append("kick"), executor=pool,
                                wake=delivery.wake)
                notifier.direct(key="lead-card:1", email="maria@rh.example",
                                message=Message("new lead"))
                kicker()
                for _ in range(500):
                    if chat.transcript:
                        break
                    await asyncio.sleep(0.01)
                blocked.set()

        asyncio.run(scenario())
    finally:
        stop.set()
        loop.join(10)
    assert [m.key for m in chat.transcript] == ["lead-card:1"] and kicks == []
