"""Teams' per-thread pacing, and the event loop thread the SDK's async calls run on."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
# Teams' documented per-bot, per-thread limits: (messages, seconds).
TEAMS_LIMITS: tuple[tuple[int, float], ...] = ((7, 1.0), (60, 30.0))


class Loop:
    """A private event loop in a daemon thread: the SDK's async calls from sync code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="teams-chat")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coro` on the loop and wait for it (a little longer than its own timeout)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout + 5)


class Pacer:
    """Per-conversation sliding windows; says how long to wait before the next send."""

    def __init__(self, limits: tuple[tuple[int, float], ...] = TEAMS_LIMITS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._monotonic = monotonic
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, conversation: str) -> float:
        """Seconds until one more message may go to `conversation` (0 when now)."""
        now = self._monotonic()
        with self._lock:
            sent = self._sent.get(conversation, deque())
            longest = max(window for _, window in self._limits)
            while sent and sent[0] <= now - longest:
                sent.popleft()
            wait = 0.0
            for count, window in self._limits:
                recent = [t for t in sent if t > now - window]
                if len(recent) >= count:
                    wait = max(wait, recent[-count] + window - now)
            return wait

    def record(self, conversation: str) -> None:
        """Note one message sent to `conversation` now."""
        with self._lock:
            self._sent.setdefault(conversation, deque()).append(self._monotonic())
