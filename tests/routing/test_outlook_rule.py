"""The Outlook inbox-rule email switch through the real engine, msal and httpx, against a
local fake of Graph: exact switch and restore, a kill between apply and record, a rule
edited by hand reported as a conflict, the tenant's own domains as inside the
organisation, and a lost answer that never makes a second rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import RoutingError
from bot.fakes.repositories import in_memory_repositories
from bot.model import CoverageMode
from bot.ports.routing import SwitchStatus
from routing.outlook_rule import OutlookRuleRouting
from tests.fakes.graph import FakeGraph, graph_client
from tests.routing.m365_harness import (
    BACKUP,
    OSC,
    SENDERS,
    START,
    active_coverage,
    engine_for,
    killed_and_resumed,
)

OWN_RULE = {"displayName": "Newsletters", "sequence": 2, "isEnabled": True,
            "conditions": {"senderContains": ["hoa.example"]},
            "actions": {"moveToFolder": "AAMkNewsletters"}}


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        box = fake.mailbox(OSC.email)
        box.rules.append(box.rule(OWN_RULE, "AQAAAOwn="))
        yield fake


def rule_routing(graph: FakeGraph) -> OutlookRuleRouting:
    return OutlookRuleRouting(client=graph_client(graph), lead_senders=SENDERS)


def test_switch_forwards_only_lead_senders_and_restore_deletes_only_that_rule(
        graph: FakeGraph) -> None:
    repos = in_memory_repositories()
    engine = engine_for(rule_routing(graph), repos)
    coverage = active_coverage(repos)
    [switched] = engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t",
                                   reason="away")
    assert switched.status is SwitchStatus.APPLIED
    assert (switched.after or {})["target"] == BACKUP.email
    [created] = [r.body for r in graph.writes()]
    assert created["conditions"] == {"fromAddresses": [
        {"emailAddress": {"address": "leads@builder.example"}},
        {"emailAddress": {"address": "noreply@zillow.example"}}]}
    assert created["actions"] == {"forwardTo": [{"emailAddress": {
        "name": "Jordan", "address": "jordan@builder.example"}}], "stopProcessingRules": False}
    assert "redirectTo" not in created["actions"] and created["sequence"] == 1
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="away")
    assert len(graph.writes()) == 1
    [reverted] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert reverted.status is SwitchStatus.REVERTED
    assert graph.mailbox(OSC.email).rules == [graph.mailbox(OSC.email).rule(OWN_RULE,
                                                                            "AQAAAOwn=")]


@pytest.mark.parametrize("edit", [
    {"actions": {"forwardTo": [{"emailAddress": {"address": "sam@builder.example"}}]}},
    {"isEnabled": False},
    {"conditions": {"fromAddresses": [{"emailAddress": {"address": "leads@builder.example"}}]}},
])
def test_a_rule_changed_by_hand_is_a_conflict_and_left_alone(
        graph: FakeGraph, edit: dict[str, object]) -> None:
    repos = in_memory_repositories()
    engine = engine_for(rule_routing(graph), repos)
    coverage = active_coverage(repos)
    engine.switch_all(coverage=coverage, osc=OSC, backup=BACKUP, actor="t", reason="away")
    ours = graph.mailbox(OSC.email).rules[-1]
    ours.update(edit)
    [result] = engine.revert_all(coverage=coverage, osc=OSC, actor="t", reason="back")
    assert result.status is SwitchStatus.CONFLICT
    assert "left as is" in result.last_error
    assert ours in graph.mailbox(OSC.email).rules
    assert [r.method for r in graph.writes()] == ["POST"]


def test_killed_between_apply_and_record_resumes_without_a_second_write(
        graph: FakeGraph, tmp_path: Path) -> None:
    killed_and_resumed(graph, "outlook_rule", tmp_path)
    assert [r["id"] for r in graph.mailbox(OSC.email).rules] == ["AQAAAOwn="]


def test_refusals_name_the_permission_and_the_drill_check(graph: FakeGraph) -> None:
    routing = rule_routing(graph)
    assert routing.check(osc=OSC, backup=BACKUP) == []
    graph.roles.discard("MailboxSettings.ReadWrite")
    graph.roles.discard("MailboxSettings.Read")
    [problem] = rule_routing(graph).check(osc=OSC, backup=BACKUP)
    assert "MailboxSettings.ReadWrite" in problem and "HTTP 403" in problem
    assert 'New-ManagementRoleAssignment -App 0a1b2c3d-oscbot -Role "Application ' \
           'MailboxSettings.ReadWrite"' in problem
    # Granted through Exchange RBAC for this mailbox only: reads work, the token cannot
    # prove writes, and the drill says how to confirm it.
    graph.rbac[OSC.email] = {"MailboxSettings.ReadWrite"}
    [unproven] = rule_routing(graph).check(osc=OSC, backup=BACKUP)
    assert "Test-ServicePrincipalAuthorization" in unproven
    graph.fail_next(429, {"Retry-After": "120"})
    with pytest.raises(RoutingError) as limited:
        routing.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert limited.value.transient and limited.value.retry_after == 120
    outsider = BACKUP.model_copy(update={"email": "jordan@gmail.example"})
    with pytest.raises(RoutingError, match="outside the organisation") as refused:
        routing.switch(osc=OSC, backup=outsider, mode=CoverageMode.SHORT_TERM)
    assert "forward to jordan@gmail.example" in refused.value.manual_step
    assert "gmail.example is not one of the tenant's verified email domains" in str(
        refused.value)
    assert routing.check(osc=OSC, backup=outsider)[0].startswith("manual step: ")
    with pytest.raises(RoutingError, match="lead_senders"):
        OutlookRuleRouting(client=graph_client(graph), lead_senders=[" "])
    assert START.year == 2026


# --- #23 item 27: the tenant's accepted domains are inside the organisation -----------

def test_a_backup_on_another_of_the_tenants_domains_gets_the_rule(graph: FakeGraph) -> None:
    # A dealer group: Maria sells for one brand, Jordan for its sister store; one tenant.
    sister = BACKUP.model_copy(update={"email": "jordan@riverside-motors.example"})
    graph.user(sister.email)
    repos = in_memory_repositories()
    engine = engine_for(rule_routing(graph), repos)
    [switched] = engine.switch_all(coverage=active_coverage(repos), osc=OSC, backup=sister,
                                   actor="t", reason="away")
    assert switched.status is SwitchStatus.APPLIED, switched.last_error
    assert (switched.after or {})["target"] == sister.email
    assert [r.path for r in graph.api("GET")].count("/v1.0/domains") == 1
    assert rule_routing(graph).check(osc=OSC, backup=sister) == []


def test_unverified_or_non_email_domains_stay_outside(graph: FakeGraph) -> None:
    graph.domains += [
        {"id": "pending.example", "isVerified": False, "supportedServices": ["Email"]},
        {"id": "intranet.example", "isVerified": True, "supportedServices": ["Intune"]}]
    for address in ("jo@pending.example", "jo@intranet.example"):
        backup = BACKUP.model_copy(update={"email": address})
        with pytest.raises(RoutingError, match="outside the organisation"):
            rule_routing(graph).switch(osc=OSC, backup=backup, mode=CoverageMode.SHORT_TERM)
    assert graph.writes() == []


def test_without_domain_read_all_another_domain_is_a_manual_step_that_names_it(
        graph: FakeGraph) -> None:
    graph.roles.discard("Domain.Read.All")
    sister = BACKUP.model_copy(update={"email": "jordan@riverside-motors.example"})
    graph.user(sister.email)
    routing = rule_routing(graph)
    with pytest.raises(RoutingError) as manual:
        routing.switch(osc=OSC, backup=sister, mode=CoverageMode.SHORT_TERM)
    assert "Domain.Read.All" in str(manual.value)
    assert "forward to jordan@riverside-motors.example" in manual.value.manual_step
    checks = routing.check(osc=OSC, backup=sister)
    assert checks[0].startswith("manual step: ")
    assert "does not carry Domain.Read.All" in checks[1]
    assert graph.writes() == []


# --- #23 item 24 (a POST is not sent twice blindly), for inbox rules ------------------

def test_a_lost_answer_to_creating_the_rule_never_makes_a_second_rule(
        graph: FakeGraph) -> None:
    graph.lose_answer("POST", "/messageRules")
    repos = in_memory_repositories()
    engine = engine_for(rule_routing(graph), repos)
    [switched] = engine.switch_all(coverage=active_coverage(repos), osc=OSC, backup=BACKUP,
                                   actor="t", reason="away")
    assert switched.status is SwitchStatus.APPLIED
    assert [r.method for r in graph.writes()] == ["POST"]
    assert len(graph.mailbox(OSC.email).rules) == 2  # Maria's own rule and ours, once
