"""The shared Graph client against the strict local fake: the token endpoint of each
national cloud, a POST never sent twice when its answer is lost, and the fake refusing
what Microsoft Graph refuses (so a request Graph would refuse cannot pass a test)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from m365.graph import GraphConfig, GraphError
from tests.fakes.graph import FakeGraph, Group, graph_client
from tests.fakes.server import LoopbackServer

MARIA = "maria@builder.example"
NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)
WINDOW = {"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2026-12-31T00:00:00Z"}


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        fake.now = lambda: NOW
        fake.mailbox(MARIA)
        yield fake


# --- national clouds (#23 item 28) ---------------------------------------------------

@pytest.mark.parametrize(("base", "login"), [
    ("https://graph.microsoft.com/v1.0", "https://login.microsoftonline.com"),
    ("https://graph.microsoft.us/v1.0", "https://login.microsoftonline.us"),
    ("https://dod-graph.microsoft.us/v1.0", "https://login.microsoftonline.us"),
    ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://login.chinacloudapi.cn"),
])
def test_tokens_come_from_the_cloud_graph_is_in(base: str, login: str) -> None:
    config = GraphConfig(client_id="c", client_secret="s", tenant_id="t", base_url=base)
    assert config.token_endpoint == f"{login}/t/oauth2/v2.0/token"
    assert config.scope == base.removesuffix("/v1.0") + "/.default"
    explicit = GraphConfig(client_id="c", client_secret="s", tenant_id="t", base_url=base,
                           token_url="https://login.example/t/oauth2/v2.0/token")
    assert explicit.token_endpoint == "https://login.example/t/oauth2/v2.0/token"


# --- a POST is never sent twice blindly (#23 item 24) ---------------------------------

def test_a_post_whose_answer_is_lost_is_not_sent_again(graph: FakeGraph) -> None:
    client = graph_client(graph)
    graph.lose_answer("POST", "/messageRules")
    rule = {"displayName": "x", "sequence": 1, "actions": {"delete": True}}
    with pytest.raises(GraphError) as lost:
        client.request("POST", f"users/{MARIA}/mailFolders/inbox/messageRules",
                       mailbox=MARIA, body=rule)
    assert lost.value.maybe_applied and lost.value.transient
    assert len(graph.mailbox(MARIA).rules) == 1 and len(graph.writes()) == 1
    # Reads and idempotent writes are retried as before.
    graph.lose_answer("GET", "/messageRules")
    assert len(client.get(f"users/{MARIA}/mailFolders/inbox/messageRules",
                          mailbox=MARIA)["value"]) == 1
    graph.fail_next(429, {"Retry-After": "1"})
    client.request("POST", f"users/{MARIA}/mailFolders/inbox/messageRules", mailbox=MARIA,
                   body=rule)
    assert len(graph.mailbox(MARIA).rules) == 2


def test_a_post_that_gets_a_5xx_may_have_been_applied(graph: FakeGraph) -> None:
    client = graph_client(graph)
    graph.fail_next(504)
    with pytest.raises(GraphError) as failed:
        client.request("POST", "subscriptions", mailbox=MARIA, body={})
    assert failed.value.maybe_applied and failed.value.status == 504
    assert len(graph.api("POST")) == 1


# --- the fake refuses what Graph refuses ----------------------------------------------

@pytest.mark.parametrize("option", ["$select", "$filter", "$orderby", "$top"])
def test_calendar_delta_takes_no_odata_query_options(graph: FakeGraph, option: str) -> None:
    client = graph_client(graph)
    with pytest.raises(GraphError) as refused:
        client.get(f"users/{MARIA}/calendarView/delta", mailbox=MARIA,
                   params={**WINDOW, option: "subject"})
    assert refused.value.status == 400 and option in refused.value.message
    page = client.get(f"users/{MARIA}/calendarView/delta", mailbox=MARIA, params=WINDOW,
                      prefer=("odata.maxpagesize=1",))
    assert "@odata.deltaLink" in page


def test_an_inbox_rule_needs_actions(graph: FakeGraph) -> None:
    client = graph_client(graph)
    with pytest.raises(GraphError, match="actions is required"):
        client.request("POST", f"users/{MARIA}/mailFolders/inbox/messageRules",
                       mailbox=MARIA, body={"displayName": "x", "sequence": 1,
                                            "conditions": {"fromAddresses": []}})
    assert graph.mailbox(MARIA).rules == []


def test_users_by_id_or_upn_only_and_addresses_through_filter(graph: FakeGraph) -> None:
    jordan = graph.user("jordan.kim@builder.example",
                        upn="jordan.kim@buildercorp.onmicrosoft.com",
                        aliases=("jordan@builder.example",))
    client = graph_client(graph)
    for key in (jordan, "jordan.kim@buildercorp.onmicrosoft.com"):
        assert client.get(f"users/{key}", mailbox=MARIA)["id"] == jordan
    for key in ("jordan.kim@builder.example", "jordan@builder.example"):
        with pytest.raises(GraphError) as missing:
            client.get(f"users/{key}", mailbox=MARIA)
        assert missing.value.status == 404
    found = client.get("users", mailbox=MARIA, params={
        "$filter": "mail eq 'jordan@builder.example' or proxyAddresses/any(p:p eq "
                   "'smtp:jordan@builder.example')", "$count": "true"},
        headers={"ConsistencyLevel": "eventual"})
    assert [u["id"] for u in found["value"]] == [jordan] and found["@odata.count"] == 1
    with pytest.raises(GraphError) as advanced:
        client.get("users", mailbox=MARIA,
                   params={"$filter": "endsWith(mail,'@builder.example')"})
    assert advanced.value.status == 400
    # A mailbox endpoint resolves any of the user's SMTP addresses, as Exchange does.
    graph.mailbox("jordan.kim@builder.example")
    assert client.get("users/jordan@builder.example/mailboxSettings/automaticRepliesSetting",
                      mailbox="jordan@builder.example")["status"] == "disabled"


def test_application_permissions_are_checked_per_call(graph: FakeGraph) -> None:
    member = graph.user("dana@builder.example")
    graph.groups["g1"] = Group("g1", "leads@builder.example", [member])
    graph.roles = {"GroupMember.Read.All", "User.ReadBasic.All"}
    client = graph_client(graph)
    # User.ReadBasic.All is listed for no /users call an app makes without a user.
    with pytest.raises(GraphError) as refused:
        client.get(f"users/{member}", mailbox=MARIA)
    assert refused.value.status == 403
    # Members come back as ids only when the app may not read users.
    [shown] = client.get("groups/g1/members", mailbox=MARIA,
                         params={"$select": "id,mail,userPrincipalName"})["value"]
    assert shown == {"@odata.type": "#microsoft.graph.user", "id": member, "mail": None,
                     "userPrincipalName": None}
    graph.roles = {"GroupMember.Read.All", "User.Read.All"}
    [full] = graph_client(graph).get("groups/g1/members", mailbox=MARIA,
                                     params={"$select": "id,mail"})["value"]
    assert full["mail"] == "dana@builder.example"
    for path in ("domains", f"users/{MARIA}/calendarView/delta"):
        with pytest.raises(GraphError) as denied:
            graph_client(graph).get(path, mailbox=MARIA, params=WINDOW)
        assert denied.value.status == 403, path


def test_a_token_for_another_audience_is_refused(graph: FakeGraph) -> None:
    token = graph.issue(audience="https://graph.microsoft.com")
    answer = httpx.get(f"{graph.base_url}/users/{MARIA}/mailboxSettings/"
                       "automaticRepliesSetting", headers={"Authorization": f"Bearer {token}"},
                       verify=ssl.create_default_context(cafile=graph.ca_file))
    assert answer.status_code == 401 and "Invalid audience" in answer.text
    own = graph.issue(audience=graph.base)
    assert httpx.get(f"{graph.base_url}/users/{MARIA}/mailboxSettings/automaticReplies"
                     "Setting", headers={"Authorization": f"Bearer {own}"},
                     verify=ssl.create_default_context(cafile=graph.ca_file)
                     ).status_code == 200


@pytest.mark.parametrize(("kind", "status"), [
    ({"group_types": ("Unified", "DynamicMembership"),
      "membership_rule": 'user.department -eq "Sales"'}, 403),
    ({"on_premises_sync": True, "group_types": (), "security_enabled": True,
      "mail_enabled": False}, 400),
    ({"group_types": (), "security_enabled": True}, 400),
])
def test_groups_whose_members_graph_cannot_change(graph: FakeGraph, kind: dict[str, Any],
                                                  status: int) -> None:
    group = Group("g1", "leads@builder.example", [])
    for key, value in kind.items():
        setattr(group, key, value)
    graph.groups["g1"] = group
    jordan = graph.user("jordan@builder.example")
    with pytest.raises(GraphError) as refused:
        graph_client(graph).request("POST", "groups/g1/members/$ref", mailbox=MARIA, body={
            "@odata.id": f"{graph.base_url}/directoryObjects/{jordan}"})
    assert refused.value.status == status and group.members == []


def test_auto_subscribe_is_read_on_one_group_and_only_by_a_signed_in_user(
        graph: FakeGraph) -> None:
    graph.groups["g1"] = Group("g1", "leads@builder.example", [])
    client = graph_client(graph)
    with pytest.raises(GraphError) as listed:
        client.get("groups", mailbox=MARIA, params={
            "$filter": "mail eq 'leads@builder.example'",
            "$select": "id,autoSubscribeNewMembers"})
    assert listed.value.status == 400
    with pytest.raises(GraphError) as app_only:
        client.get("groups/g1", mailbox=MARIA, params={"$select": "autoSubscribeNewMembers"})
    assert app_only.value.status == 403
    graph.app_reads_group_subscription = True
    assert client.get("groups/g1", mailbox=MARIA, params={
        "$select": "autoSubscribeNewMembers"})["autoSubscribeNewMembers"] is False


def test_membership_changes_reach_reads_after_the_replication_delay(graph: FakeGraph) -> None:
    now = [NOW]
    graph.now = lambda: now[0]
    graph.replication_delay = timedelta(seconds=10)
    graph.groups["g1"] = Group("g1", "leads@builder.example", [])
    jordan = graph.user("jordan@builder.example")
    client = graph_client(graph)
    client.request("POST", "groups/g1/members/$ref", mailbox=MARIA, body={
        "@odata.id": f"{graph.base_url}/directoryObjects/{jordan}"})

    def listed() -> list[str]:
        return [m["id"] for m in client.get("groups/g1/members", mailbox=MARIA)["value"]]

    assert listed() == []
    now[0] += timedelta(seconds=10)
    assert listed() == [jordan]
    client.request("DELETE", f"groups/g1/members/{jordan}/$ref", mailbox=MARIA)
    assert listed() == [jordan]
    now[0] += timedelta(seconds=10)
    assert listed() == []


def test_a_notification_not_answered_within_three_seconds_is_sent_again(
        graph: FakeGraph) -> None:
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(3.3)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with LoopbackServer(Slow) as slow:
        delivery = graph.notify_batch([{"subscriptionId": "s1", "clientState": "x"},
                                       {"subscriptionId": "s2", "clientState": "y"}],
                                      url=f"{slow.base}/notify")
    assert delivery.status is None and delivery.resent and len(delivery.items) == 2
