"""The Microsoft 365 group email switch through the real engine against a local fake of
Graph: exact switch and restore, paging, a kill between apply and record, a hand-made
membership change reported as a conflict, and read-only groups as a manual step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.fakes.repositories import in_memory_repositories
from bot.ports.routing import SwitchStatus
from routing.m365_group import M365GroupRouting
from tests.fakes.graph import FakeGraph, Group, graph_client
from tests.routing.m365_harness import BACKUP, OSC, active_coverage, engine_for, killed_and_resumed

GROUP_ID = "02bd9fd6-8f93-4758-87c3-1fb73740a315"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(page_size=2) as fake:
        fake.mailbox(OSC.email)
        members = [fake.user(a) for a in (OSC.email, "dana@builder.example",
                                          "reception@builder.example")]
        fake.user(BACKUP.email)
        fake.groups[GROUP_ID] = Group(GROUP_ID, "leads-maria@builder.example", members)
        yield fake


def members(graph: FakeGraph) -> list[str]:
    return list(graph.groups[GROUP_ID].members)


def test_backup_joins_and_only_they_leave_again(graph: FakeGraph) -> None:
    before = members(graph)
    repos = in_memory_repositories()
    engine = engine_for(M365GroupRouting(client=graph_client(graph)), repos)
    coverage = active_coverage(repos)
    [switched] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t",
                                   reason="away")
    assert switched.status is SwitchStatus.APPLIED
    assert BACKUP.email in (switched.after or {})["target"]
    [added] = graph.writes()
    assert added.path == f"/v1.0/groups/{GROUP_ID}/members/$ref"
    assert added.body == {"@odata.id": f"{graph.base_url}/directoryObjects/user-0004"}
    # Three members and the backup: two pages of members read via @odata.nextLink.
    assert any("$skiptoken" in r.query for r in graph.api("GET"))
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="away")
    assert len(graph.writes()) == 1
    [reverted] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert reverted.status is SwitchStatus.REVERTED
    assert members(graph) == before
    assert [r.path for r in graph.writes()][1] == (
        f"/v1.0/groups/{GROUP_ID}/members/user-0004/$ref")


def test_a_backup_already_in_the_group_stays_in_it(graph: FakeGraph) -> None:
    graph.groups[GROUP_ID].members.append(graph.users[BACKUP.email])
    repos = in_memory_repositories()
    engine = engine_for(M365GroupRouting(client=graph_client(graph)), repos)
    coverage = active_coverage(repos)
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="away")
    [reverted] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert reverted.status is SwitchStatus.REVERTED
    assert graph.writes() == [] and graph.users[BACKUP.email] in members(graph)


def test_membership_changed_by_hand_is_a_conflict_and_left_alone(graph: FakeGraph) -> None:
    repos = in_memory_repositories()
    engine = engine_for(M365GroupRouting(client=graph_client(graph)), repos)
    coverage = active_coverage(repos)
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="away")
    graph.groups[GROUP_ID].members.append(graph.user("sam@builder.example"))
    [result] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert result.status is SwitchStatus.CONFLICT
    assert "sam@builder.example" in result.last_error and "left as is" in result.last_error
    assert len(graph.writes()) == 1 and graph.users[BACKUP.email] in members(graph)


def test_killed_between_apply_and_record_resumes_without_a_second_write(
        graph: FakeGraph, tmp_path: Path) -> None:
    before = members(graph)
    killed_and_resumed(graph, "m365_group", tmp_path)
    assert members(graph) == before


def test_mail_enabled_security_group_is_a_confirmed_manual_step(graph: FakeGraph) -> None:
    group = graph.groups[GROUP_ID]
    group.group_types, group.security_enabled = (), True
    repos = in_memory_repositories()
    routing = M365GroupRouting(client=graph_client(graph))
    engine = engine_for(routing, repos)
    coverage = active_coverage(repos)
    [step] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t",
                               reason="away")
    assert step.status is SwitchStatus.MANUAL
    assert "Exchange admin center" in step.last_error and BACKUP.email in step.last_error
    assert routing.check(osc=OSC, backup=BACKUP)[0].startswith("manual step")
    engine.confirm_manual(coverage_id=coverage.id or 0, channel="email", actor="dana")
    [revert] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert revert.status is SwitchStatus.REVERTING and "set the members" in revert.last_error
    assert graph.writes() == []


def test_check_names_missing_group_permission(graph: FakeGraph) -> None:
    routing = M365GroupRouting(client=graph_client(graph))
    assert routing.check(osc=OSC, backup=BACKUP) == []
    graph.roles -= {"GroupMember.ReadWrite.All"}
    [problem] = M365GroupRouting(client=graph_client(graph)).check(osc=OSC, backup=BACKUP)
    assert "GroupMember.ReadWrite.All" in problem and "Grant admin consent" in problem
    unknown = OSC.model_copy(update={"routing_ids": {"m365_group": "nope@builder.example"}})
    assert "no Microsoft 365 group" in routing.check(osc=unknown, backup=BACKUP)[0]
