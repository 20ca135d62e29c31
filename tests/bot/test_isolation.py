"""One bad row never stops a job: the failing item is skipped, recorded, announced once,
and every other item is handled; sweeps see every due row however many there are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.delivery.deliverer import OutboxDelivery
from bot.delivery.notify import Notifier
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.jobs.isolation import ItemGuard, paged
from bot.messages import Message
from bot.model import (
    AbsenceKind,
    Coverage,
    CoverageMode,
    CoverageOrigin,
    CoverageStatus,
    Lead,
    Task,
)
from bot.ports.chat import MessageRef
from bot.ports.repositories import Repositories
from handlers.wiring import build_context

T0 = datetime(2026, 11, 30, 16, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)  # cannot be shown in Chicago time: OverflowError
MARIA = "maria@rh.example"


@pytest.fixture
def ctx(config: AppConfig, repos: Repositories, clock: FixedClock) -> AppContext:
    clock.set(T0)
    return build_context(config=config, repos=repos, clock=clock, chat=RecordingChat(),
                         sources={}, sleep=lambda _: None)


def lead(n: int, received_at: datetime) -> Lead:
    return Lead(id=None, source="web", external_id=f"x-{n}", name=f"Lead {n}",
                email=None, phone="+15125550100", community="Riverside", message="",
                received_at=received_at, owner_email=MARIA, assigned_to=MARIA,
                assignment_reason="test")


def skip_notices(repos: Repositories) -> list[str]:
    return [item.message.text for item in repos.outbox.pending(limit=10_000)
            if item.key.startswith("job-skip:")]


def test_sweep_skips_a_poison_lead_alerts_the_rest_and_tells_managers_once(
        ctx: AppContext, repos: Repositories) -> None:
    repos.leads.add(lead(1, T0 - timedelta(minutes=10)))
    bad, _ = repos.leads.add(lead(2, YEAR_ONE))
    repos.leads.add(lead(3, T0 - timedelta(minutes=7)))
    first = ctx.leads.sweep()
    second = ctx.leads.sweep()
    assert (first.alerts, second.alerts) == (2, 0)
    assert skip_notices(repos) == [f"sweep_leads skipped lead:{bad.id}: OverflowError."]
    notice = repos.outbox.get(f"job-skip:sweep_leads:lead:{bad.id}")
    assert notice is not None and notice.target_kind == "channel"
    assert notice.message.mentions == ("dana@rh.example",)
    audit = repos.audit.list(subject=f"lead:{bad.id}")
    assert [(e.action, e.reason) for e in audit] == [
        ("job.item_skipped", "sweep_leads: OverflowError: date value out of range")]


def test_sweep_pages_through_every_due_lead(ctx: AppContext, repos: Repositories) -> None:
    for n in range(1_201):  # more than two pages of 500
        repos.leads.add(lead(n, T0 - timedelta(minutes=30) + timedelta(
            milliseconds=n // 3)))  # ties on received_at across page edges
    assert ctx.leads.sweep().alerts == 1_201


def test_reminders_skip_a_poison_task(ctx: AppContext, repos: Repositories) -> None:
    repos.tasks.add(Task(id=None, title="Call back", due_at=T0 - timedelta(hours=1),
                         owner_email=MARIA, assignee_email=MARIA))
    bad = repos.tasks.add(Task(id=None, title="Broken", due_at=YEAR_ONE, owner_email=MARIA,
                               assignee_email=MARIA))
    assert ctx.leads.remind() == 1
    assert skip_notices(repos) == [f"send_reminders skipped task:{bad.id}: OverflowError."]


def test_coverage_tick_skips_a_coverage_it_cannot_start(ctx: AppContext,
                                                        repos: Repositories) -> None:
    def planned(osc: str) -> Coverage:
        return repos.coverages.add(Coverage(
            id=None, osc_email=osc, start=T0 - timedelta(hours=1), end=T0 + timedelta(days=2),
            kind=AbsenceKind.VACATION, mode=CoverageMode.SHORT_TERM,
            origin=CoverageOrigin.MANUAL, status=CoverageStatus.PLANNED,
            backup_email="jordan@rh.example"))

    gone = planned("left.the.team@rh.example")  # removed from app.yaml meanwhile
    good = planned(MARIA)
    assert ctx.coverage.tick().started == 1
    assert repos.coverages.get(good.id or 0).status is CoverageStatus.ACTIVE
    assert skip_notices(repos) == [f"coverage_tick skipped coverage:{gone.id}: NotFound."]


def test_when_the_skip_cannot_be_recorded_the_job_fails_as_a_whole(
        repos: Repositories, clock: FixedClock) -> None:
    class DownOutbox:
        def enqueue(self, item: object) -> object:
            raise ConnectionError("database unreachable")

    guard = ItemGuard(audit=repos.audit, clock=clock, managers=("dana@rh.example",),
                      notifier=Notifier(outbox=DownOutbox(),  # type: ignore[arg-type]
                                        clock=clock, channel="#x"))

    def broken() -> None:
        raise ValueError("bad row")

    with pytest.raises(ConnectionError):
        guard.run("sweep_leads", "lead:1", broken)
    assert guard.run("sweep_leads", "lead:2", lambda: 7) == 7


def test_paged_walks_pages_until_a_short_one() -> None:
    rows = list(range(7))
    seen = list(paged(lambda after: [r for r in rows if after is None or r > after][:3],
                      lambda r: r, size=3))
    assert seen == rows


def test_delivery_fails_a_message_that_cannot_be_sent_and_sends_the_rest(
        repos: Repositories, clock: FixedClock) -> None:
    class PickyChat(RecordingChat):
        def post(self, *, channel: str, message: Message,
                 key: str | None = None) -> MessageRef:
            if message.text == "poison":
                raise ValueError("cannot render")
            return super().post(channel=channel, message=message, key=key)

    chat = PickyChat()
    notifier = Notifier(outbox=repos.outbox, clock=clock, channel="C1")
    for n, text in enumerate(["one", "poison", "two"]):
        notifier.post(key=f"m-{n}", message=Message(text))
    report = OutboxDelivery(outbox=repos.outbox, chat=chat, clock=clock,
                            per_channel_interval=timedelta(0)).deliver_due(clock.now())
    assert (report.sent, report.failed) == (2, 1)
    assert chat.texts() == ["one", "two"]
    poison = repos.outbox.get("m-1")
    assert poison is not None and poison.status.value == "failed"
    assert poison.last_error == "ValueError: cannot render"
