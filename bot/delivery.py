"""Delivering the outbox: in order per channel, paced, retried, each message once.

An item is marked sent with its message reference right after the platform
accepts it. A transient failure (429 with Retry-After, 5xx, network) schedules
a retry and holds back later messages for the same channel so they never
overtake it; a permanent failure is recorded and delivery moves on.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import ChatError
from bot.ports import ChatPort, Clock, MessageRef, OutboxItem, OutboxRepository, OutboxStatus

MAX_BACKOFF = timedelta(minutes=5)
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"


class OutboxDelivery:
    """Sends due outbox items through a chat port."""

    def __init__(self, *, outbox: OutboxRepository, chat: ChatPort, clock: Clock,
                 sleep: Callable[[float], None] | None = None,
                 per_channel_interval: timedelta = timedelta(seconds=1),
                 batch: int = 100) -> None:
        self._outbox = outbox
        self._chat = chat
        self._clock = clock
        self._sleep = sleep
        self._interval = per_channel_interval
        self._batch = batch
        self._last_sent: dict[str, datetime] = {}
        # One pass at a time: the scheduler and an immediate kick after a new lead must
        # never both send the same pending item.
        self._lock = threading.Lock()
        self._again = threading.Event()

    def kick(self) -> None:
        """Deliver now if no pass is running; otherwise make the running pass go again."""
        self._again.set()
        while self._again.is_set() and self._lock.acquire(blocking=False):
            try:
                self._again.clear()
                self._drain()
            finally:
                self._lock.release()

    def deliver_due(self, now: datetime | None = None) -> DeliveryReport:
        """Deliver everything due, one batch at a time, until nothing more can go now."""
        with self._lock:
            return self._drain()

    def _drain(self) -> DeliveryReport:
        total = DeliveryReport()
        while True:
            report, progressed = self._pass()
            total = DeliveryReport(total.sent + report.sent, total.retried + report.retried,
                                   total.failed + report.failed)
            if not progressed:
                return total

    def _pass(self) -> tuple[DeliveryReport, bool]:
        sent = retried = failed = 0
        held: set[str] = set()
        progressed = False
        now = self._clock.now()
        for item in self._outbox.pending(limit=self._batch):
            channel = self._channel_of(item)
            if channel in held:
                continue
            if item.next_attempt_at is not None and item.next_attempt_at > now:
                # Waiting for a retry: nothing after it in this channel may overtake it.
                held.add(channel)
                continue
            if not self._wait_for_pace(channel):
                held.add(channel)
                continue
            try:
                ref = self._send(item)
            except ChatError as exc:
                if exc.transient and item.attempts + 1 < MAX_ATTEMPTS:
                    self._retry_later(item, exc)
                    retried += 1
                    held.add(channel)
                else:
                    self._fail(item, str(exc))
                    failed += 1
                    progressed = True
                continue
            except Exception as exc:
                # A message that cannot even be rendered or sent (a bad row, a bug) fails
                # alone, with the reason kept on its outbox row; the queue moves on.
                self._fail(item, f"{type(exc).__name__}: {exc}"[:300])
                failed += 1
                progressed = True
                continue
            self._outbox.save(dataclasses.replace(
                item, status=OutboxStatus.SENT, ref=ref, sent_at=self._clock.now(),
                attempts=item.attempts + 1, last_error=""))
            self._last_sent[channel] = self._clock.now()
            sent += 1
            progressed = True
        return DeliveryReport(sent, retried, failed), progressed

    def _channel_of(self, item: OutboxItem) -> str:
        if item.target_kind == "direct":
            return f"dm:{item.target}"
        if item.target_kind == "update":
            original = self._outbox.get(item.target)
            return self._channel_of(original) if original else item.target
        return item.target

    def _wait_for_pace(self, channel: str) -> bool:
        last = self._last_sent.get(channel)
        if last is None:
            return True
        wait = (last + self._interval - self._clock.now()).total_seconds()
        if wait <= 0:
            return True
        if self._sleep is None:
            return False
        self._sleep(wait)
        return True

    def _send(self, item: OutboxItem) -> MessageRef | None:
        if item.target_kind == "channel":
            return self._chat.post(channel=item.target, message=item.message)
        if item.target_kind == "direct":
            return self._chat.direct(email=item.target, message=item.message)
        original = self._outbox.get(item.target)
        if original is None or original.status is OutboxStatus.FAILED:
            raise ChatError(f"the message to edit ({item.target}) was never delivered")
        if original.ref is None:
            # Not sent yet: the newest content simply goes out with it.
            self._outbox.save(dataclasses.replace(original, message=item.message))
            return None
        self._chat.update(ref=original.ref, message=item.message)
        return original.ref

    def _retry_later(self, item: OutboxItem, exc: ChatError) -> None:
        backoff = timedelta(seconds=exc.retry_after) if exc.retry_after else min(
            MAX_BACKOFF, timedelta(seconds=2 ** item.attempts))
        self._outbox.save(dataclasses.replace(
            item, attempts=item.attempts + 1, last_error=str(exc),
            next_attempt_at=self._clock.now() + backoff))

    def _fail(self, item: OutboxItem, reason: str) -> None:
        self._outbox.save(dataclasses.replace(
            item, status=OutboxStatus.FAILED, attempts=item.attempts + 1, last_error=reason))
