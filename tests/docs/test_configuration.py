"""docs/configuration.md names, for each routing vendor, the real permissions or scopes the
code asks for, the recommended sign-in, the environment it reads, and the vendor's page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config.check import ADAPTER_CREDENTIALS
from calendars.google import SCOPES as CALENDAR_SCOPES
from routing.gmail_filter import SCOPES as GMAIL_SCOPES
from routing.google_group import SCOPE as GROUP_SCOPE
from tests.routing.fake_hubspot import SCOPES as HUBSPOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of one `### title` section of the vendor chapter."""
    found = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##)", DOC, re.S | re.M)
    assert found is not None, f"no section {title}"
    return found.group(1)


def test_every_scope_the_code_asks_google_for_is_named() -> None:
    google = section("Google Workspace (Calendar, Groups, Gmail)")
    for scope in (*CALENDAR_SCOPES, *GMAIL_SCOPES, GROUP_SCOPE):
        assert f"`{scope}`" in google


def test_hubspot_names_its_real_scopes_and_no_made_up_one() -> None:
    hubspot = section("HubSpot")
    for scope in {"crm.objects.owners.read", *HUBSPOT_SCOPES["contacts"],
                  *HUBSPOT_SCOPES["tasks"]}:
        assert f"`{scope}`" in hubspot
    named = set(re.findall(r"`([a-z][a-z0-9._-]*)`", hubspot))
    assert "tasks" not in named  # HubSpot has no scope by that name
    real = {"crm.objects.owners.read", *HUBSPOT_SCOPES["contacts"], *HUBSPOT_SCOPES["deals"]}
    assert {n for n in named if n.startswith("crm.")} <= real
    assert "private app" in hubspot


def test_salesforce_recommends_a_connected_app_flow() -> None:
    salesforce = section("Salesforce")
    assert "client credentials flow" in salesforce and "JWT bearer flow" in salesforce
    assert "Run As" in salesforce and "API Enabled" in salesforce
    assert "retired in Summer '27" in salesforce


@pytest.mark.parametrize(("title", "host"), [
    ("HubSpot", "https://developers.hubspot.com/"),
    ("Salesforce", "https://help.salesforce.com/"),
    ("Google Workspace (Calendar, Groups, Gmail)", "https://developers.google.com/"),
    ("Twilio", "https://www.twilio.com/docs/"),
    ("CallRail", "https://apidocs.callrail.com/"),
])
def test_each_vendor_links_its_own_page(title: str, host: str) -> None:
    assert f"]({host}" in section(title)


def test_every_variable_oscbot_check_asks_for_is_documented() -> None:
    for adapter in ("hubspot", "salesforce", "twilio", "callrail"):
        for number, option in enumerate(ADAPTER_CREDENTIALS[adapter]):
            for name in option:
                assert f"`{name}`" in DOC, name
                if number < 2:  # the README names the ways to use, not the deprecated ones
                    assert f"`{name}`" in README, name
    assert "`OSCBOT_PUBLIC_URL` + `/voice/twilio`" in DOC
