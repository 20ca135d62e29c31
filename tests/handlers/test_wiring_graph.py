"""Graph adapters are found by their app.yaml name; without credentials email falls back
to the manual step, and Outlook calendars share the one Graph client."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from calendars.outlook import OutlookCalendarSource
from handlers.wiring import calendar_sources, routing_adapters
from m365.graph import graph_client_from_env
from tests.conftest import TEAM, make_config

CLOCK = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
GRAPH = {"GRAPH_CLIENT_ID": "0a1b", "GRAPH_CLIENT_SECRET": "s", "GRAPH_TENANT_ID": "t"}


def test_graph_email_adapters_by_name_and_manual_without_credentials() -> None:
    for name, settings in (("m365_group", {}),
                           ("outlook_rule", {"lead_senders": "leads@rh.example"})):
        config = make_config(routing={"email": {"adapter": name, "settings": settings}})
        adapters = routing_adapters(config, in_memory_repositories(), GRAPH, clock=CLOCK)
        assert adapters["email"].name == name
        bare = routing_adapters(config, in_memory_repositories(), {}, clock=CLOCK)
        assert bare["email"].name == "manual"


def test_outlook_calendars_share_one_client() -> None:
    people = [dict(p) for p in TEAM["people"]]
    for person in people:
        if person["role"] == "osc":
            person["calendar"] = {"outlook": person["email"]}
    config = make_config(people=people)
    client = graph_client_from_env(GRAPH)
    assert client is not None and client.config.base_url == "https://graph.microsoft.com/v1.0"
    assert client.config.token_endpoint == "https://login.microsoftonline.com/t/oauth2/v2.0/token"
    sources = calendar_sources(config, base=Path("."), graph=client)
    assert len(sources) == 2
    assert all(isinstance(s, OutlookCalendarSource) and s.client is client
               for s in sources.values())
    assert calendar_sources(config, base=Path(".")) == {}
    assert graph_client_from_env({}) is None
