"""CRM hand-over through the engine: which records move, how they come back, and crashes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from bot.config.model import PersonConfig
from bot.coverage.briefs import switch_line
from bot.errors import RoutingError
from bot.fakes.clock import FixedClock
from bot.fakes.routing import FakeCrmItem, InMemoryBatchCrm, InMemoryCrm, InMemoryRecordMoves
from bot.messages import plain
from bot.model import Coverage, CoverageMode
from bot.ports.repositories import Repositories
from bot.ports.routing import (
    CrmRecord,
    MoveStatus,
    RecordKind,
    RecordMove,
    RoutingSwitch,
    SwitchStatus,
)
from bot.routing.engine import RoutingEngine
from tests.conftest import make_config
from tests.routing.crm_harness import crm_harness

START = datetime(2026, 12, 1, 14, tzinfo=UTC)
END = START + timedelta(days=10)
OSC = PersonConfig(email="maria@rh.example", name="Maria", role="osc")
BACKUP = PersonConfig(email="jordan@rh.example", name="Jordan", role="backup")
USERS = {"maria@rh.example": "u-maria", "jordan@rh.example": "u-jordan"}


class Crash(BaseException):
    """Stands for the process dying."""


class CrashingMoves(InMemoryRecordMoves):
    """Dies once, on the save that would mark a record moved."""

    armed = True

    def save(self, move: RecordMove) -> RecordMove:
        if self.armed and move.status is MoveStatus.MOVED:
            self.armed = False
            raise Crash
        return super().save(move)


def item(kind: RecordKind, record_id: str, *, owner: str = "u-maria",
         created: datetime = START - timedelta(days=30),
         due: datetime | None = None) -> FakeCrmItem:
    return FakeCrmItem(kind, record_id, owner, created, due)


@pytest.fixture
def crm() -> InMemoryCrm:
    fake = InMemoryCrm(USERS)
    fake.add(item(RecordKind.LEAD, "L-old"))  # Maria's before the leave: never moves
    fake.add(item(RecordKind.LEAD, "L-new", created=START + timedelta(hours=2)))
    fake.add(item(RecordKind.TASK, "T-during", due=START + timedelta(days=2)))
    fake.add(item(RecordKind.TASK, "T-after", due=END + timedelta(days=1)))
    fake.add(item(RecordKind.TASK, "T-other", owner="u-sam", due=START + timedelta(days=1)))
    return fake


def setup(crm: InMemoryCrm, mode: CoverageMode, *, moves: InMemoryRecordMoves | None = None,
          keep: bool = False) -> tuple[Repositories, RoutingEngine, Coverage, FixedClock]:
    h = crm_harness(crm, osc_email=OSC.email, backup_email=BACKUP.email, start=START, end=END,
                    mode=mode, keep_new_leads_with_backup=keep, moves=moves)
    return h.repos, h.engine, h.coverage, h.clock


def owners(crm: InMemoryCrm) -> dict[str, str]:
    return {i.id: i.owner for i in crm.items.values()}


def test_long_term_moves_due_tasks_and_new_leads_only(crm: InMemoryCrm) -> None:
    repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM)
    [journal] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="scheduler",
                                  reason="leave")
    assert journal.status is SwitchStatus.APPLIED
    assert owners(crm) == {"L-old": "u-maria", "L-new": "u-jordan", "T-during": "u-jordan",
                           "T-after": "u-maria", "T-other": "u-sam"}
    assert repos.routes.get(osc_email=OSC.email, channel="leads") == BACKUP.email
    assert {(m.record_id, m.status) for m in repos.moves.list(coverage_id=coverage.id)} == {
        ("L-new", MoveStatus.MOVED), ("T-during", MoveStatus.MOVED)}
    assert any(e.action == "routing.handed_over" for e in repos.audit.list())


def test_short_term_moves_tasks_and_leaves_every_lead_with_the_osc(crm: InMemoryCrm) -> None:
    _repos, engine, coverage, _ = setup(crm, CoverageMode.SHORT_TERM)
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="scheduler",
                      reason="vacation")
    assert owners(crm)["L-new"] == "u-maria"
    assert owners(crm)["T-during"] == "u-jordan"


def test_sweeps_are_idempotent_pick_up_new_leads_and_respect_hand_changes(
        crm: InMemoryCrm) -> None:
    _repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM)
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="leave")
    writes = len(crm.writes)
    assert engine.hand_over_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="job") == []
    assert len(crm.writes) == writes
    crm.add(item(RecordKind.LEAD, "L-later", created=START + timedelta(days=3)))
    crm.items[(RecordKind.LEAD, "L-new")].owner = "u-maria"  # a manager gave it back
    engine.hand_over_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="job")
    assert owners(crm)["L-later"] == "u-jordan"
    assert owners(crm)["L-new"] == "u-maria"
    assert crm.writes[writes:] == [("L-later", "u-jordan")]


def test_return_puts_back_what_moved_and_reports_hand_changes(crm: InMemoryCrm) -> None:
    repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM)
    crm.add(item(RecordKind.TASK, "T-done", due=START + timedelta(days=1)))
    crm.add(item(RecordKind.TASK, "T-deleted", due=START + timedelta(days=1)))
    crm.add(item(RecordKind.LEAD, "L-stolen", created=START + timedelta(hours=1)))
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="leave")
    crm.items[(RecordKind.TASK, "T-done")].open = False
    del crm.items[(RecordKind.TASK, "T-deleted")]
    crm.items[(RecordKind.LEAD, "L-stolen")].owner = "u-sam"

    [journal] = engine.revert_all(coverage=coverage, osc=OSC, actor="maria@rh.example",
                                  reason="back")

    assert journal.status is SwitchStatus.CONFLICT
    assert "lead L-stolen (now owned by u-sam)" in journal.last_error
    assert owners(crm) == {"L-old": "u-maria", "L-new": "u-maria", "T-during": "u-maria",
                           "T-after": "u-maria", "T-other": "u-sam", "T-done": "u-jordan",
                           "L-stolen": "u-sam"}
    statuses = {m.record_id: m.status for m in repos.moves.list(coverage_id=coverage.id)}
    assert statuses == {"L-new": MoveStatus.RETURNED, "T-during": MoveStatus.RETURNED,
                        "T-done": MoveStatus.FINISHED, "T-deleted": MoveStatus.GONE,
                        "L-stolen": MoveStatus.CHANGED}
    assert repos.routes.get(osc_email=OSC.email, channel="leads") is None
    again = engine.revert_all(coverage=coverage, osc=OSC, actor="maria@rh.example",
                              reason="back")
    assert again == [journal]


def test_new_leads_can_stay_with_a_long_term_backup(crm: InMemoryCrm) -> None:
    _repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM, keep=True)
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="leave")
    [journal] = engine.revert_all(coverage=coverage, osc=OSC, actor="s", reason="back")
    assert journal.status is SwitchStatus.REVERTED
    assert owners(crm)["L-new"] == "u-jordan" and owners(crm)["T-during"] == "u-maria"


def test_a_crash_between_the_write_and_its_record_is_finished_then_undone(
        crm: InMemoryCrm) -> None:
    moves = CrashingMoves()
    repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM, moves=moves)
    with pytest.raises(Crash):
        engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="leave")
    [pending] = repos.moves.list(statuses=(MoveStatus.PENDING,))
    assert owners(crm)[pending.record_id] == "u-jordan"  # written, not yet recorded as moved

    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="resume")
    assert {m.status for m in repos.moves.list()} == {MoveStatus.MOVED}
    assert len(crm.writes) == 2  # nothing written twice
    engine.revert_all(coverage=coverage, osc=OSC, actor="s", reason="back")
    assert owners(crm)["L-new"] == owners(crm)["T-during"] == "u-maria"


def test_a_failed_sweep_keeps_the_switch_and_is_retried(crm: InMemoryCrm) -> None:
    repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM)
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="leave")
    crm.add(item(RecordKind.LEAD, "L-later", created=START + timedelta(days=1)))
    crm.fail_next(RoutingError("fakecrm answered HTTP 503", transient=True))
    problems = engine.hand_over_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="job")
    assert problems == ["leads: fakecrm answered HTTP 503"]
    assert repos.switches.get(coverage_id=coverage.id or 0,
                              channel="leads").status is SwitchStatus.APPLIED  # type: ignore[union-attr]
    assert engine.hand_over_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="job") == []
    assert owners(crm)["L-later"] == "u-jordan"


def test_a_backup_without_a_crm_login_fails_with_the_manual_step(crm: InMemoryCrm) -> None:
    del crm.users[BACKUP.email]
    _repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM)
    [journal] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s",
                                  reason="leave")
    assert journal.status is SwitchStatus.FAILED
    assert "Jordan is not a fakecrm user" in journal.last_error
    assert "by hand: In fakecrm, give Jordan Maria's open tasks" in journal.last_error
    assert crm.writes == []
    adapter = engine.adapters["leads"]
    assert adapter.check(osc=OSC, backup=BACKUP) == ["Jordan is not a fakecrm user"]


def test_the_brief_names_what_the_crm_leaves_to_people() -> None:
    switch = RoutingSwitch(
        id=1, coverage_id=1, channel="leads", adapter="lasso", status=SwitchStatus.APPLIED,
        before={"channel": "leads", "target": "maria@rh.example", "details": {}},
        after={"channel": "leads", "target": "jordan@rh.example",
               "details": {"also_by_hand": "move the Lasso tasks"}},
        attempts=0, last_error="", updated_at=START, actor="s", reason="leave")
    assert plain(switch_line(switch, config=make_config())) == (
        "✅ Leads → Jordan (lasso) — also by hand: move the Lasso tasks")


def test_a_crm_with_batch_endpoints_moves_and_returns_records_a_batch_at_a_time() -> None:
    crm = InMemoryBatchCrm(USERS, batch_size=2)
    for n in range(5):
        crm.add(item(RecordKind.TASK, f"T{n}", due=START + timedelta(days=1)))
    crm.add(item(RecordKind.LEAD, "L-new", created=START + timedelta(hours=2)))
    repos, engine, coverage, _ = setup(crm, CoverageMode.LONG_TERM)

    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s", reason="leave")
    assert set(owners(crm).values()) == {"u-jordan"}
    assert crm.batches == [("update", 2), ("update", 2), ("update", 1), ("update", 1)]

    crm.items[(RecordKind.TASK, "T4")].open = False  # finished while covering: stays
    del crm.items[(RecordKind.TASK, "T3")]  # deleted in the CRM
    crm.batches.clear()
    engine.revert_all(coverage=coverage, osc=OSC, actor="s", reason="back")
    assert owners(crm) == {"T0": "u-maria", "T1": "u-maria", "T2": "u-maria",
                           "T4": "u-jordan", "L-new": "u-maria"}
    assert [b for b in crm.batches if b[0] == "read"] == [("read", 2), ("read", 2), ("read", 1),
                                                          ("read", 1)]
    assert {m.record_id: m.status for m in repos.moves.list()} == {
        "T0": MoveStatus.RETURNED, "T1": MoveStatus.RETURNED, "T2": MoveStatus.RETURNED,
        "T3": MoveStatus.GONE, "T4": MoveStatus.FINISHED, "L-new": MoveStatus.RETURNED}


class VanishingCrm(InMemoryBatchCrm):
    """Somebody deletes T-gone in the CRM between the search and the write."""

    def set_owners(self, kind: RecordKind, owners: Mapping[str, str]) -> dict[str, CrmRecord]:
        self.items.pop((RecordKind.TASK, "T-gone"), None)
        return super().set_owners(kind, owners)


def test_a_record_deleted_before_its_write_stays_pending_and_is_found_gone() -> None:
    crm = VanishingCrm(USERS, batch_size=10)
    crm.add(item(RecordKind.TASK, "T-gone", due=START + timedelta(days=1)))
    crm.add(item(RecordKind.TASK, "T-kept", due=START + timedelta(days=1)))
    repos, engine, coverage, _ = setup(crm, CoverageMode.SHORT_TERM)
    [journal] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="s",
                                  reason="leave")
    assert journal.status is SwitchStatus.APPLIED
    assert {m.record_id: m.status for m in repos.moves.list()} == {
        "T-gone": MoveStatus.PENDING, "T-kept": MoveStatus.MOVED}
    engine.revert_all(coverage=coverage, osc=OSC, actor="s", reason="back")
    assert {m.record_id: m.status for m in repos.moves.list()} == {
        "T-gone": MoveStatus.GONE, "T-kept": MoveStatus.RETURNED}
