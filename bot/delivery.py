"""Delivering the outbox: each message once, in order per conversation, fast and fair.

A deliverer leases conversations (a channel, or one person's DMs) whose oldest pending
message is due, one message per lease, so every conversation gets its turn and no
backlog in one delays another. Several leases are worked concurrently (bounded).
Leases live in the database: replicas share the work, and a crashed replica's lease
runs out and is taken over.

Each send is recorded as "in flight" before the network call. When the outcome is
unknown (a timeout, a crash mid-send, a "sent" that could not be written) the next
attempt first asks the platform whether the message already arrived, by its outbox key,
and sends only when it did not. When "sent" cannot be recorded, the deliverer stops
rather than carry on sending.

Transient failures retry with capped backoff for `retry_for` (24 h by default); a
message that fails for good, or for too long, is marked failed and the managers are
told in plain text (`oscbot outbox` lists and retries them).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import ChatError
from bot.ports import ChatPort, Clock, MessageRef, OutboxItem, OutboxRepository, OutboxStatus

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
RETRY_FOR = timedelta(hours=24)
LEASE = timedelta(seconds=60)
# How far before the first attempt the platform's history is searched for the key:
# covers clock skew between this host and the platform.
LOOKBACK = timedelta(minutes=2)


@dataclass(frozen=True)
class DeliveryReport:
    """What delivery did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(self.sent + other.sent, self.retried + other.retried,
                              self.failed + other.failed)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"


class DeliveryHalted(Exception):
    """The outbox could not record a send: delivery stops instead of risking a repeat."""


class OutboxDelivery:
    """Sends due outbox items through a chat port; safe to run in several replicas."""

    def __init__(self, *, outbox: OutboxRepository, chat: ChatPort, clock: Clock,
                 per_channel_interval: timedelta = timedelta(seconds=1),
                 workers: int = 8, lease: timedelta = LEASE,
                 retry_for: timedelta = RETRY_FOR, max_backoff: timedelta = MAX_BACKOFF,
                 owner: str | None = None,
                 on_failed: Callable[[OutboxItem], None] | None = None) -> None:
        self._outbox = outbox
        self._chat = chat
        self._clock = clock
        self._interval = per_channel_interval
        self._workers = workers
        self._lease = lease
        self._retry_for = retry_for
        self._max_backoff = max_backoff
        self.owner = owner or f"deliverer-{uuid.uuid4().hex[:12]}"
        self._on_failed = on_failed
        self._wake = threading.Event()
        self._running = False
        self.halted_until: datetime | None = None

    def kick(self) -> None:
        """Something new is queued: wake the background loop, or, without one, deliver now."""
        if self._running:
            self._wake.set()
        else:
            self.deliver_due()

    def deliver_due(self, now: datetime | None = None) -> DeliveryReport:
        """Deliver everything that may go now, in rounds of concurrent leases; returns when
        nothing more can go before the clock moves (tests and `oscbot jobs run`)."""
        total = DeliveryReport()
        with ThreadPoolExecutor(self._workers, thread_name_prefix="deliver") as pool:
            while not self._halted():
                claimed = self._outbox.claim(owner=self.owner, now=self._clock.now(),
                                             lease=self._lease, limit=self._workers)
                if not claimed:
                    break
                for future in [pool.submit(self.work, c) for c in claimed]:
                    total += future.result()
        return total

    def run(self, stop: threading.Event, *, poll: float = 0.25, grace: float = 20.0) -> None:
        """Deliver until `stop` is set, keeping up to `workers` leases busy; then finish the
        sends in progress within `grace` seconds (shorter than the lease) and return."""
        running: set[Future[DeliveryReport]] = set()
        pool = ThreadPoolExecutor(self._workers, thread_name_prefix="deliver")
        self._running = True
        try:
            while not stop.is_set():
                running = {f for f in running if not f.done()}
                free = self._workers - len(running)
                claimed: list[str] = []
                if free > 0 and not self._halted():
                    try:
                        claimed = self._outbox.claim(owner=self.owner, now=self._clock.now(),
                                                     lease=self._lease, limit=free)
                    except Exception:
                        log.exception("claiming outbox work failed; retrying")
                running |= {pool.submit(self.work, c) for c in claimed}
                if len(running) >= self._workers:
                    wait(running, timeout=poll, return_when=FIRST_COMPLETED)
                elif not claimed:
                    self._wake.wait(poll)
                    self._wake.clear()
        finally:
            self._running = False
            wait(running, timeout=grace)
            pool.shutdown(wait=False, cancel_futures=True)

    def work(self, conversation: str) -> DeliveryReport:
        """Send the next message of a leased conversation and give the lease back."""
        next_send_at: datetime | None = None
        try:
            item = self._outbox.head(conversation)
            now = self._clock.now()
            if item is None:
                report = DeliveryReport()
            elif item.next_attempt_at is not None and item.next_attempt_at > now:
                # A retry is waiting: nothing after it in this conversation may overtake it.
                report, next_send_at = DeliveryReport(), item.next_attempt_at
            else:
                report, next_send_at = self._deliver(item)
        except DeliveryHalted:
            # The lease is kept until it runs out; whoever takes it over looks the message up.
            return DeliveryReport()
        except Exception:
            log.exception("delivery to one conversation failed; it is retried")
            next_send_at = self._clock.now() + timedelta(seconds=5)
            report = DeliveryReport()
        try:
            self._outbox.release(conversation, owner=self.owner, now=self._clock.now(),
                                 next_send_at=next_send_at)
        except Exception:
            log.exception("releasing a delivery lease failed; it runs out by itself")
        return report

    def _halted(self) -> bool:
        return self.halted_until is not None and self._clock.now() < self.halted_until

    def _deliver(self, item: OutboxItem) -> tuple[DeliveryReport, datetime | None]:
        now = self._clock.now()
        started = self._outbox.begin_attempt(item, owner=self.owner, now=now)
        if started is None:
            return DeliveryReport(), None  # the lease ran out: someone else has it now
        # Unsure whether an earlier try arrived until the platform has been asked.
        unsure = item.in_flight
        try:
            ref = None
            if unsure:
                ref = self._already_sent(item)
                unsure = False
            if ref is None:
                ref = self._send(started)
        except ChatError as exc:
            return self._failed_attempt(started, exc, unsure=unsure or exc.maybe_sent)
        except Exception as exc:
            # A message that cannot even be rendered or sent (a bad row, a bug) fails
            # alone, with the reason kept on its outbox row; the queue moves on.
            return self._failed_attempt(started, ChatError(
                f"{type(exc).__name__}: {exc}"[:300]), unsure=unsure)
        self._record_sent(started, ref)
        return DeliveryReport(sent=1), self._clock.now() + self._interval

    def _already_sent(self, item: OutboxItem) -> MessageRef | None:
        if item.target_kind == "update":
            return None  # an edit is idempotent: doing it again is harmless
        since = (item.first_tried_at or item.created_at) - LOOKBACK
        if item.target_kind == "direct":
            return self._chat.find_sent(key=item.key, email=item.target, since=since)
        return self._chat.find_sent(key=item.key, channel=item.target, since=since)

    def _send(self, item: OutboxItem) -> MessageRef | None:
        if item.target_kind == "channel":
            return self._chat.post(channel=item.target, message=item.message, key=item.key)
        if item.target_kind == "direct":
            return self._chat.direct(email=item.target, message=item.message, key=item.key)
        original = self._outbox.get(item.target)
        if original is None or original.status is OutboxStatus.FAILED:
            raise ChatError(f"the message to edit ({item.target}) was never delivered")
        if original.ref is None:
            # Not sent yet: the newest content simply goes out with it.
            self._outbox.save(dataclasses.replace(original, message=item.message))
            return None
        self._chat.update(ref=original.ref, message=item.message)
        return original.ref

    def _record_sent(self, item: OutboxItem, ref: MessageRef | None) -> None:
        try:
            self._outbox.save(dataclasses.replace(
                item, status=OutboxStatus.SENT, ref=ref, sent_at=self._clock.now(),
                in_flight=False, last_error="", next_attempt_at=None))
        except Exception as exc:
            # Sent but not recorded: stop here. The item stays in flight, so whoever works
            # it next finds the message by its key instead of sending it again.
            self.halted_until = self._clock.now() + timedelta(seconds=30)
            log.error("a sent message could not be recorded (%s); delivery paused",
                      type(exc).__name__)
            raise DeliveryHalted from exc

    def _failed_attempt(self, item: OutboxItem, exc: ChatError,
                        unsure: bool) -> tuple[DeliveryReport, datetime | None]:
        now = self._clock.now()
        backoff = timedelta(seconds=exc.retry_after) if exc.retry_after else min(
            self._max_backoff, timedelta(seconds=2 ** max(item.attempts - 1, 0)))
        given_up = now + backoff - item.created_at > self._retry_for
        if exc.transient and not given_up:
            self._outbox.save(dataclasses.replace(
                item, last_error=str(exc), next_attempt_at=now + backoff, in_flight=unsure))
            return DeliveryReport(retried=1), now + backoff
        reason = str(exc) if not exc.transient else (
            f"still failing after {self._retry_for} ({exc})")
        failed = self._outbox.save(dataclasses.replace(
            item, status=OutboxStatus.FAILED, last_error=reason, in_flight=unsure))
        log.warning("outbox item %s failed for good: %s", item.key, reason)
        if self._on_failed is not None:
            try:
                self._on_failed(failed)
            except Exception:
                log.exception("telling the managers about a failed message failed")
        return DeliveryReport(failed=1), None
