"""Delivering the outbox: each message once, in order per conversation, fast and fair.

A deliverer leases conversations (a channel, or one person's DMs) whose oldest pending
message may go now; the claim returns that message with its attempt already recorded (in
flight), in one transaction, and the outcome is recorded with the lease's release in
another. When the conversation's next messages may already go (unpaced, or the send took
longer than the pacing interval) and a worker is free for the others, the outcome is
recorded with the claim of those messages instead, and the lease kept: a busy
conversation costs one commit per run of messages, not two per message. Urgent messages
go first (speed to lead: a new lead's DM, its alert and escalation), then the
conversation that has been able to send the longest, so a backlog in one conversation
never delays another. Several leases are worked concurrently (bounded). Leases live in
the database: replicas share the work, and a crashed replica's lease runs out and is
taken over.

Each send is recorded as "in flight" before the network call. When the outcome is
unknown (a timeout, a crash mid-send, a "sent" that could not be written) the next
attempt first asks the platform whether the message already arrived, by its outbox key,
and sends only when it did not. When "sent" cannot be recorded, the deliverer stops
rather than carry on sending.

Pacing: a conversation sends at most once per `per_channel_interval` (Slack: about one
message a second per channel); a 429 holds the conversation for its Retry-After, and a
429 on a limit shared by every conversation (finding people by email) is recorded as a
pause that every replica's claims honour.

Transient failures retry with capped backoff for `retry_for` (24 h by default); a
message that fails for good, or for too long, is marked failed and the managers are
told in plain text (`oscbot outbox` lists and retries them).
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import ChatError
from bot.ports.chat import ChatPort, MessageRef
from bot.ports.clock import Clock
from bot.ports.delivery import Claim, OutboxItem, OutboxRepository, OutboxStatus

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
RETRY_FOR = timedelta(hours=24)
LEASE = timedelta(seconds=60)
MIN_RETRY = timedelta(milliseconds=100)
# The most messages of one conversation claimed together when they may all go at once.
RUN_LENGTH = 8
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


@dataclass(frozen=True, slots=True)
class _SentRun:
    """A run as sent, before it is recorded: what happened, the items' new states, when
    the conversation may send next, and the claims given back untried."""

    report: DeliveryReport
    done: list[OutboxItem]
    next_send_at: datetime | None
    unsent: list[Claim]


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
        # Unpaced, a conversation worked without a break takes its next messages a run at
        # a time (one commit per run); paced, only one may go at once.
        self._run_length = RUN_LENGTH if per_channel_interval <= timedelta(0) else 1
        self._workers = workers
        self._lease = lease
        self._retry_for = retry_for
        self._max_backoff = max_backoff
        self.owner = owner or f"deliverer-{uuid.uuid4().hex[:12]}"
        self._on_failed = on_failed
        self._wake = threading.Event()
        self._running = False
        self._stop: threading.Event | None = None
        # When conversations this deliverer released may send again: an idle loop wakes
        # for the soonest instead of sleeping a whole poll (pacing stays at the interval).
        self._due: list[datetime] = []
        self._due_lock = threading.Lock()
        # Workers sending now (see `_may_keep`).
        self._busy = 0
        self._busy_lock = threading.Lock()
        self.halted_until: datetime | None = None

    @property
    def workers(self) -> int:
        """How many sends may be in progress at once."""
        return self._workers

    def kick(self) -> None:
        """Something new is queued: wake the background loop, or, without one, deliver now."""
        if not self.wake():
            self.deliver_due()

    def wake(self) -> bool:
        """Wake the background loop if one runs (never blocks); False when none does."""
        if self._running:
            self._wake.set()
            return True
        return False

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
        """Deliver until `stop` is set, keeping up to `workers` sends in progress; then
        finish them within `grace` seconds (shorter than the lease) and return."""
        running: set[Future[DeliveryReport]] = set()
        pool = ThreadPoolExecutor(self._workers, thread_name_prefix="deliver")
        self._running, self._stop = True, stop
        try:
            while not stop.is_set():
                running = {f for f in running if not f.done()}
                free = self._workers - len(running)
                claimed: list[Claim] = []
                # Cleared before the claim, not after the wait: a kick that comes while
                # this claim runs wakes the next wait instead of being wiped out.
                self._wake.clear()
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
                    self._wake.wait(self._idle_wait(poll))
        finally:
            self._running = False
            wait(running, timeout=grace)
            pool.shutdown(wait=False, cancel_futures=True)

    def work(self, claim: Claim) -> DeliveryReport:
        """Send a leased conversation's next message, then record the outcome and give the
        lease back in one transaction. While the conversation's next messages may go at
        once and a worker stays free for the others, the lease is kept and they are sent
        too, a run at a time (see `_may_keep`)."""
        with self._busy_lock:
            self._busy += 1
        total = DeliveryReport()
        try:
            run = [claim]
            while run:
                report, run = self._work_run(run)
                total += report
        finally:
            with self._busy_lock:
                self._busy -= 1
        return total

    def _work_run(self, run: list[Claim]) -> tuple[DeliveryReport, list[Claim]]:
        """Send a run of one conversation's claimed messages in order, stopping at the first
        that does not go, and record them (the rest given back unsent) in one transaction:
        what happened, and the conversation's next run when the lease was kept for it."""
        sent = self._send_run(run)
        conversation = run[0].item.conversation
        now = self._clock.now()
        try:
            following = self._record(conversation, sent, now)
        except Exception as exc:
            return self._not_recorded(sent, exc), []
        if following:
            return sent.report, following
        self._schedule_next_turn(sent.next_send_at)
        self._report_failures(sent.done)
        return sent.report, []

    def _send_run(self, run: list[Claim]) -> _SentRun:
        """Send the run's messages in order until one does not go, or the loop may not
        go on; the claims after it are left unsent."""
        total = DeliveryReport()
        done: list[OutboxItem] = []
        next_send_at: datetime | None = None
        for n, claim in enumerate(run):
            if n and not self._may_go_on():
                return _SentRun(total, done, next_send_at, run[n:])
            report, next_send_at, outcome = self._deliver_or_retry(claim)
            total += report
            if outcome is not None:
                done.append(outcome)
            if outcome is None or outcome.status is not OutboxStatus.SENT:
                return _SentRun(total, done, next_send_at, run[n + 1:])
        return _SentRun(total, done, next_send_at, [])

    def _deliver_or_retry(self, claim: Claim) -> tuple[DeliveryReport, datetime | None,
                                                       OutboxItem | None]:
        """`_deliver`; an unexpected error there has the conversation retried shortly,
        its message left in flight (the next attempt looks it up first)."""
        try:
            return self._deliver(claim)
        except Exception:
            log.exception("delivery to one conversation failed; it is retried")
            return DeliveryReport(), self._clock.now() + timedelta(seconds=5), None

    def _record(self, conversation: str, sent: _SentRun, now: datetime) -> list[Claim]:
        """Record the run's outcome with the claim of the conversation's next run when the
        lease is kept for it, else with the lease's release; returns the next run (none
        when the lease was given back)."""
        next_send_at = sent.next_send_at
        if next_send_at is not None and next_send_at <= now and self._may_keep_after(sent):
            return self._outbox.keep_or_release(
                conversation, owner=self.owner, now=now, lease=self._lease,
                next_send_at=next_send_at, done=sent.done, limit=self._run_length)
        self._outbox.release(conversation, owner=self.owner, now=now,
                             next_send_at=next_send_at, done=sent.done, unsent=sent.unsent)
        return []

    def _may_keep_after(self, sent: _SentRun) -> bool:
        """Whether the lease may be kept after this run: every message of it went and
        `_may_keep` allows it."""
        went_whole = (not sent.unsent and bool(sent.done)
                      and sent.done[-1].status is OutboxStatus.SENT)
        return went_whole and self._may_keep()

    def _not_recorded(self, sent: _SentRun, exc: Exception) -> DeliveryReport:
        """Recording the run failed (called while handling `exc`): delivery halts if a
        message of it was sent; returns what to report (nothing once halted)."""
        if any(item.status is OutboxStatus.SENT for item in sent.done):
            # Sent but not recorded: stop here. The items stay in flight and the lease
            # is kept until it runs out; whoever works them next finds the messages by
            # their keys instead of sending them again.
            self.halted_until = self._clock.now() + timedelta(seconds=30)
            log.error("a sent message could not be recorded (%s); delivery paused",
                      type(exc).__name__)
            return DeliveryReport()
        log.exception("recording a delivery attempt failed; its lease runs out by itself")
        return sent.report

    def _schedule_next_turn(self, next_send_at: datetime | None) -> None:
        """Have the background loop claim the released conversation again when it may
        send next: now, or when the idle wait reaches that time."""
        if next_send_at is None or not self._running:
            return
        if next_send_at <= self._clock.now():
            # Its next message may go already (the send took longer than the pacing
            # interval): claim again now, not after the loop's idle poll.
            self._wake.set()
        else:
            with self._due_lock:
                heapq.heappush(self._due, next_send_at)

    def _report_failures(self, done: list[OutboxItem]) -> None:
        """Tell the managers about each message of the run that failed for good."""
        on_failed = self._on_failed
        if not on_failed:
            return
        for item in done:
            if item.status is OutboxStatus.FAILED:
                try:
                    on_failed(item)
                except Exception:
                    log.exception("telling the managers about a failed message failed")

    def _may_go_on(self) -> bool:
        """Whether to send the next message of a run already claimed: not once the loop
        is told to stop (its leases are to be finished within the grace period) and not
        while halted; the rest of the run is given back unsent."""
        stopping = self._stop is not None and self._stop.is_set()
        return not stopping and not self._halted()

    def _may_keep(self) -> bool:
        """Whether a worker may go on with its conversation instead of handing it back:
        not when stopping or halted, and only while another worker is free, so every
        other conversation that may send is still claimed at once and a busy
        conversation never takes a turn from one that waits."""
        with self._busy_lock:
            spare = self._busy < self._workers
        return spare and self._may_go_on()

    def _idle_wait(self, poll: float) -> float:
        """Seconds until the soonest conversation released here may send, at most `poll`."""
        now = self._clock.now()
        with self._due_lock:
            while self._due and self._due[0] <= now:
                heapq.heappop(self._due)
            soonest = self._due[0] if self._due else None
        if soonest is None:
            return poll
        return min(poll, (soonest - now).total_seconds())

    def _halted(self) -> bool:
        return self.halted_until is not None and self._clock.now() < self.halted_until

    def _deliver(self, claim: Claim) -> tuple[DeliveryReport, datetime | None,
                                              OutboxItem | None]:
        """Send (or find) the claimed message: what happened, when the conversation may
        send next, and the item's new state to record."""
        item = claim.item
        if self._clock.now() >= claim.lease_until - self._lease / 4:
            # Waited too long for a free worker: the lease may run out mid-send and
            # another deliverer take over. Leave it; the next claim looks it up first.
            return DeliveryReport(), None, None
        # Paced from when the send starts: Slack counts a message when it arrives.
        started = self._clock.now()
        # Unsure whether an earlier try arrived until the platform has been asked.
        unsure = claim.unsure
        try:
            ref = None
            if unsure:
                ref = self._already_sent(item)
                unsure = False
            if ref is None:
                ref = self._send(item)
        except ChatError as exc:
            return self._failed_attempt(item, exc, unsure=unsure or exc.maybe_sent)
        except Exception as exc:
            # A message that cannot even be rendered or sent (a bad row, a bug) fails
            # alone, with the reason kept on its outbox row; the queue moves on.
            return self._failed_attempt(item, ChatError(
                f"{type(exc).__name__}: {exc}"[:300]), unsure=unsure)
        now = self._clock.now()
        sent = dataclasses.replace(item, status=OutboxStatus.SENT, ref=ref, sent_at=now,
                                   in_flight=False, last_error="", next_attempt_at=None)
        return DeliveryReport(sent=1), started + self._interval, sent

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
        try:
            original = self._outbox.get(item.target)
            if original is None or original.status is OutboxStatus.FAILED:
                raise ChatError(f"the message to edit ({item.target}) was never delivered")
            if original.ref is None:
                # Not sent yet: the newest content simply goes out with it.
                self._outbox.rewrite_unsent(original.key, item.message)
                return None
        except ChatError:
            raise
        except Exception as exc:
            # The outbox could not be read (a dropped database connection): the edit is
            # tried again later, never given up for it.
            raise ChatError(f"reading the message to edit failed ({type(exc).__name__})",
                            transient=True) from exc
        self._chat.update(ref=original.ref, message=item.message)
        return original.ref

    def _failed_attempt(self, item: OutboxItem, exc: ChatError, unsure: bool
                        ) -> tuple[DeliveryReport, datetime | None, OutboxItem]:
        now = self._clock.now()
        # A wait the platform names is kept however often it refused before ("0" still
        # waits a moment: never a hot loop); without one, the backoff doubles to a cap.
        backoff = (max(timedelta(seconds=exc.retry_after), MIN_RETRY)
                   if exc.retry_after is not None else
                   min(self._max_backoff, timedelta(seconds=2 ** max(item.attempts - 1, 0))))
        if exc.scope and exc.retry_after:
            # A limit shared by every conversation (finding people, say): every replica
            # holds those claims until it passes, not only this process.
            try:
                self._outbox.pause(exc.scope, until=now + backoff)
            except Exception:
                log.exception("recording a rate-limit pause failed")
        given_up = now + backoff - item.created_at > self._retry_for
        if exc.transient and not given_up:
            return DeliveryReport(retried=1), now + backoff, dataclasses.replace(
                item, last_error=str(exc), next_attempt_at=now + backoff, in_flight=unsure)
        reason = str(exc) if not exc.transient else (
            f"still failing after {self._retry_for} ({exc})")
        log.warning("outbox item %s failed for good: %s", item.key, reason)
        return DeliveryReport(failed=1), None, dataclasses.replace(
            item, status=OutboxStatus.FAILED, last_error=reason, in_flight=unsure)
