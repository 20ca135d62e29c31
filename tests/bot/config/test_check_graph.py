"""`oscbot check` for Microsoft 365: Graph credentials, URL shapes and adapter settings."""

from __future__ import annotations

from pathlib import Path

from bot.config.check import check_config
from tests.bot.config.test_check import GOOD, write

GRAPH = {"GRAPH_CLIENT_ID": "0a1b", "GRAPH_CLIENT_SECRET": "s", "GRAPH_TENANT_ID": "t"}
OUTLOOK = GOOD.replace("calendar: {ics: https://calendar.example/maria.ics}",
                       "calendar: {outlook: maria@t.example}\n    routing_ids: "
                       "{m365_group: leads-maria@t.example}")


def problems(tmp_path: Path, text: str, env: dict[str, str]) -> dict[str, str]:
    found = check_config(write(tmp_path, text), env={"SLACK_BOT_TOKEN": "x",
                                                     "SLACK_SIGNING_SECRET": "y",
                                                     "LEAD_WEBHOOK_SECRET": "z", **env})
    return {p.field: p.message for p in found if p.is_error}


def test_outlook_calendar_and_exchange_routing_are_valid_with_graph_credentials(
        tmp_path: Path) -> None:
    text = OUTLOOK + "routing:\n  email: {adapter: m365_group}\n"
    assert problems(tmp_path, text, GRAPH) == {}
    rule = OUTLOOK + ("routing:\n  email:\n    adapter: outlook_rule\n"
                      "    settings: {lead_senders: 'leads@site.example'}\n")
    assert problems(tmp_path, rule, GRAPH) == {}


def test_missing_graph_settings_are_named(tmp_path: Path) -> None:
    text = OUTLOOK.replace("    routing_ids: {m365_group: leads-maria@t.example}\n", "") + (
        "routing:\n  email: {adapter: outlook_rule}\n")
    found = problems(tmp_path, text, {})
    assert "GRAPH_CLIENT_ID+GRAPH_CLIENT_SECRET+GRAPH_TENANT_ID" in found["routing.email.adapter"]
    assert "Outlook calendars (Maria)" in found["GRAPH_CLIENT_ID"]
    assert "lead notifications" in found["routing.email.settings.lead_senders"]
    group = problems(tmp_path, text.replace("outlook_rule", "m365_group"), GRAPH)
    assert "object id or address" in group["people[0].routing_ids"]
    urls = problems(tmp_path, OUTLOOK, {**GRAPH, "GRAPH_TOKEN_URL": "https://login.example/x",
                                        "GRAPH_BASE_URL": "http://graph.example/v1.0"})
    assert "/oauth2/v2.0/token" in urls["GRAPH_TOKEN_URL"]
    assert urls["GRAPH_BASE_URL"] == "must be an https:// URL"


def warnings_of(tmp_path: Path, text: str, env: dict[str, str]) -> dict[str, str]:
    found = check_config(write(tmp_path, text), env={"SLACK_BOT_TOKEN": "x",
                                                     "SLACK_SIGNING_SECRET": "y",
                                                     "LEAD_WEBHOOK_SECRET": "z", **env})
    return {p.field: p.message for p in found if not p.is_error}


def test_graph_and_its_token_endpoint_must_be_in_the_same_cloud(tmp_path: Path) -> None:
    us = {**GRAPH, "GRAPH_BASE_URL": "https://graph.microsoft.us/v1.0"}
    # A national cloud alone is enough: tokens then come from that cloud's login host.
    assert problems(tmp_path, OUTLOOK, us) == {}
    assert "GRAPH_TOKEN_URL" not in warnings_of(tmp_path, OUTLOOK, us)
    mixed = problems(tmp_path, OUTLOOK, {
        **us, "GRAPH_TOKEN_URL": "https://login.microsoftonline.com/t/oauth2/v2.0/token"})
    assert "Microsoft Graph for US Government L4 (GCC High)" in mixed["GRAPH_TOKEN_URL"]
    assert "refused by the other" in mixed["GRAPH_TOKEN_URL"]
    china = problems(tmp_path, OUTLOOK, {
        **GRAPH, "GRAPH_BASE_URL": "https://microsoftgraph.chinacloudapi.cn/v1.0",
        "GRAPH_TOKEN_URL": "https://login.microsoftonline.us/t/oauth2/v2.0/token"})
    assert "China operated by 21Vianet" in china["GRAPH_TOKEN_URL"]
    dod = {**GRAPH, "GRAPH_BASE_URL": "https://dod-graph.microsoft.us/v1.0",
           "GRAPH_TOKEN_URL": "https://login.microsoftonline.us/t/oauth2/v2.0/token"}
    assert problems(tmp_path, OUTLOOK, dod) == {}
    # A host oscbot does not know (a proxy): it cannot tell where tokens come from.
    proxy = {**GRAPH, "GRAPH_BASE_URL": "https://graph-proxy.builder.example/v1.0"}
    assert "GRAPH_TOKEN_URL" in warnings_of(tmp_path, OUTLOOK, proxy)["GRAPH_TOKEN_URL"]
