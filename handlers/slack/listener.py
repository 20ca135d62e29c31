"""What a Slack listener is here: one row of the table `register` walks (what it listens
to, the function that acks, the lazy functions that work after the ack), and the one way
work that may be slow outlives its ack.

Slack shows the person an error when the ack comes after 3 seconds, so an ack function
only acks (or answers from memory) and the service call runs in a lazy function, which
Bolt starts once the ack function has returned. A form submission must answer in its
ack to show errors beside the fields, so it waits for the service at most `ACK_BUDGET`
and finishes in the background after that (`Later`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from re import Pattern
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck

T = TypeVar("T")
ListenerFunction = Callable[..., Awaitable[None]]
Report = Callable[[Exception], Awaitable[None]]

# How long an ack waits for a service before it acks without the answer: Slack allows
# 3 s from sending the request to receiving the ack, and the rest is transit, the
# signature check and the user lookup.
ACK_BUDGET = 2.0
# What a person reads when their command failed after the ack for a reason oscbot did
# not foresee (the logs hold the error's type; nothing about the person).
UNEXPECTED = ("That did not work: something unexpected went wrong, and it was logged. "
              "Try again in a minute; if it keeps failing, tell whoever runs oscbot.")


class Kind(StrEnum):
    """What a listener listens to (Bolt's decorator of the same name)."""

    COMMAND = "command"
    ACTION = "action"
    VIEW = "view"
    EVENT = "event"


@dataclass(frozen=True)
class Listener:
    """One row of the listener table: Bolt calls `ack` within the request and starts
    each `lazy` function after it (with the arguments each declares)."""

    kind: Kind
    key: str | Pattern[str] | dict[str, str]
    ack: ListenerFunction
    lazy: tuple[ListenerFunction, ...] = ()


async def ack_now(ack: AsyncAck) -> None:
    """Acknowledge at once, saying nothing: the lazy functions do the work."""
    await ack()


def reported(lazy: ListenerFunction, report: Report) -> ListenerFunction:
    """`lazy` with its failures handed to the one error handler (Bolt would log the
    exception's text, which may carry names and emails); a command's person is told it
    did not work, since the ack that Slack would have turned into an error went out."""
    # `wraps` keeps the name and signature Bolt reads to pass the declared arguments.
    @functools.wraps(lazy)
    async def run(*args: Any, **kwargs: Any) -> None:
        try:
            await lazy(*args, **kwargs)
        except Exception as exc:
            await report(exc)
            respond = kwargs.get("respond")
            if respond is not None:
                # Best effort: the failure is already logged; a second one changes nothing.
                with contextlib.suppress(Exception):
                    await respond(response_type="ephemeral", text=UNEXPECTED)

    return run


class Later:
    """Work an ack waits for up to a budget, then lets finish in the background."""

    def __init__(self, report: Report, *, budget: float = ACK_BUDGET) -> None:
        self._report = report
        self._budget = budget
        # The event loop keeps only weak references to tasks: these are held until done.
        self._running: set[asyncio.Future[None]] = set()

    async def wait(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Start `work` and wait for it at most the budget; its future, done or not."""
        future = asyncio.ensure_future(work)
        await asyncio.wait({future}, timeout=self._budget)
        return future

    def then(self, future: asyncio.Future[T], use: Callable[[T], Awaitable[None]]) -> None:
        """Once `future` is done, hand its result to `use`, after the ack; failures of
        either go to the error handler."""
        async def finish() -> None:
            try:
                await use(await future)
            except Exception as exc:
                await self._report(exc)

        running = asyncio.ensure_future(finish())
        self._running.add(running)
        running.add_done_callback(self._running.discard)
