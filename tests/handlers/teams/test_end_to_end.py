"""`oscbot run` with `team.chat: teams`, driven as Teams would drive it, against the fake
Bot Connector: install, leave dialog, brief, lead DM, alert, Called, return."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.http.signing import signed_headers
from tests.fakes.bot_connector import (
    TEAM_ID,
    TENANT,
    FakeBotConnector,
    RosterMember,
    card_of,
    card_text,
    post_activity,
)
from tests.processes import free_port, oscbot_run

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[3] / "bot" / "config" / "examples"
PEOPLE = {"maria": "Maria Lopez", "alex": "Alex Chen", "jordan": "Jordan Kim",
          "sam": "Sam Patel", "priya": "Priya Shah", "dana": "Dana Brooks"}


def teams_config(tmp_path: Path) -> Path:
    """The bundled example team, on Teams, without calendars (the test declares leave)."""
    text = (EXAMPLES / "app.yaml").read_text()
    text = re.sub(r"^\s+calendar:.*\n", "", text, flags=re.MULTILINE)
    text = text.replace("  managers: [", "  chat: teams\n  managers: [", 1)
    path = tmp_path / "app.yaml"
    path.write_text(text)
    return path


def wait_for(check: Callable[[], Any], what: str, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[tuple[str, FakeBotConnector, dict[str, RosterMember]]]:
    """One `oscbot run` for the module (starting it is the slow part)."""
    tmp_path = tmp_path_factory.mktemp("teams-run")
    port = free_port()
    with FakeBotConnector() as teams:
        # Alex is on the sales team in app.yaml but not in the Teams team's roster.
        members = {key: teams.add_member(f"{key}@riverside-homes.example", name)
                   for key, name in PEOPLE.items() if key != "alex"}
        env = {**os.environ, "PORT": str(port), "OSCBOT_CONFIG": str(teams_config(tmp_path)),
               "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
               "LEAD_WEBHOOK_SECRET": "lead-secret", "TEAMS_SERVICE_URL": teams.url,
               "TEAMS_TENANT_ID": TENANT, "TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED": "true"}
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
            env.pop(name, None)
        with oscbot_run(env, tmp_path) as running:
            yield running.base, teams, members
        assert "Traceback" not in running.output, running.output[-3000:]
        assert "Teams requests are NOT authenticated" in running.output


def texts(teams: FakeBotConnector, conversation: str) -> list[str]:
    return [card_text(m) for m in teams.messages(conversation)]


def test_other_tenants_and_bad_bodies_are_refused(
        running: tuple[str, FakeBotConnector, dict[str, RosterMember]]) -> None:
    base, teams, people = running
    endpoint = f"{base}/api/messages"
    other = teams.message("coverage", user=people["dana"], tenant="tenant-elsewhere")
    assert post_activity(endpoint, other).status_code == 403
    assert post_activity(endpoint, teams.install(tenant="tenant-elsewhere")).status_code == 403
    assert httpx.post(endpoint, content=b"{not json", headers={
        "Content-Type": "application/json"}).status_code == 400
    time.sleep(0.5)
    assert teams.messages(TEAM_ID) == [] and teams.requests == []


def test_the_whole_product_on_teams(
        running: tuple[str, FakeBotConnector, dict[str, RosterMember]]) -> None:
    base, teams, people = running
    endpoint = f"{base}/api/messages"

    # Installed in the team: the channel is remembered and greeted.
    assert post_activity(endpoint, teams.install()).status_code == 200
    wait_for(lambda: any("installed here" in t for t in texts(teams, TEAM_ID)), "welcome")

    # "going on leave" answers with the button that opens the dialog.
    assert post_activity(endpoint, teams.message("going on leave",
                                                 user=people["maria"])).status_code == 200
    opener = wait_for(lambda: [m for m in teams.messages(TEAM_ID)
                               if card_of(m).get("actions", [{}])[0].get("type")
                               == "Action.Submit"], "the leave form button")[0]
    data = card_of(opener)["actions"][0]["data"]
    fetched = post_activity(endpoint, teams.invoke("task/fetch", {"data": data},
                                                   user=people["maria"]))
    assert fetched.status_code == 200
    form = fetched.json()["task"]["value"]["card"]["content"]
    backup = next(i for i in form["body"] if i.get("id") == "backup")
    assert [c["value"] for c in backup["choices"]] == [
        "first-available", "jordan@riverside-homes.example", "sam@riverside-homes.example"]

    # An invalid submission is answered inline; a good one plans the coverage.
    today = datetime.now(UTC).date()
    bad = post_activity(endpoint, teams.invoke("task/submit", {"data": {
        **data, "start": today.isoformat(), "end": (today - timedelta(days=3)).isoformat(),
        "kind": "vacation", "backup": "first-available"}}, user=people["maria"])).json()
    assert any(i.get("id") == "end-error" for i in
               bad["task"]["value"]["card"]["content"]["body"])
    done = post_activity(endpoint, teams.invoke("task/submit", {"data": {
        **data, "start": today.isoformat(), "end": (today + timedelta(days=4)).isoformat(),
        "kind": "vacation", "backup": "first-available", "emergency": "now",
        "notes": "Call <at>Dana Brooks</at> first"}}, user=people["maria"])).json()
    assert done["task"]["type"] == "message" and "Jordan Kim covering" in done["task"]["value"]
    brief = wait_for(lambda: [m for m in teams.messages(TEAM_ID)
                              if "is out — Jordan Kim is covering" in card_text(m)], "brief")[0]
    assert "‹at›Dana Brooks‹/at›" in card_text(brief)
    assert "<at>Jordan Kim</at>" in card_text(brief)

    # A lead arrives for Maria's community: its card goes to Jordan's 1:1 chat.
    received = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps({"source": "website", "external_id": "t-1", "name": "Pat *Doe*",
                       "phone": "+15125550100", "community": "Riverside",
                       "received_at": received}).encode()
    answer = httpx.post(f"{base}/leads", content=body, headers=signed_headers(
        "lead-secret", path="/leads", body=body, t=int(time.time())))
    assert answer.status_code == 202
    lead_id = answer.json()["id"]
    chat = wait_for(lambda: teams.chat_with("jordan@riverside-homes.example"), "Jordan's chat")
    wait_for(lambda: any("Pat \\*Doe\\*" in t for t in texts(teams, chat.id)), "lead card")

    # Nobody contacted it: a channel alert that really mentions Jordan.
    alert = wait_for(lambda: [m for m in teams.messages(TEAM_ID)
                              if "no contact" in card_text(m)], "uncontacted alert", 60)[0]
    [entity] = [e for e in card_of(alert)["msteams"]["entities"]
                if e["text"] == "<at>Jordan Kim</at>"]
    assert entity["mentioned"]["id"] == people["jordan"].aad_object_id

    # Jordan presses Called: the timer stops and the card is refreshed; a double click is
    # harmless; Sam (neither responsible nor a manager) is refused.
    press = teams.invoke("adaptiveCard/action", {"action": {
        "type": "Action.Execute", "verb": "lead_called", "data": {"value": str(lead_id)}}},
        user=people["jordan"], reply_to=alert["id"])
    refused = post_activity(endpoint, {**press, "from": {
        "id": people["sam"].id, "aadObjectId": people["sam"].aad_object_id}}).json()
    assert refused["type"] == "application/vnd.microsoft.activity.message"
    assert refused["value"].startswith("Sorry")
    first = post_activity(endpoint, press).json()
    assert first["type"] == "application/vnd.microsoft.card.adaptive"
    assert "actions" not in first["value"]
    assert first["value"]["body"][0]["text"].startswith("✅ Logged: called")
    assert post_activity(endpoint, press).json() == first

    # Maria is back: the brief is edited in place and her return list arrives.
    assert post_activity(endpoint, teams.message("im back", user=people["maria"],
                                                 personal=True)).status_code == 200
    wait_for(lambda: "✅ Maria Lopez is back" in card_text(
        teams.conversations[TEAM_ID].activities[brief["id"]]), "brief edited in place")
    maria = wait_for(lambda: teams.chat_with("maria@riverside-homes.example"), "Maria's chat")
    wait_for(lambda: any("Welcome back, Maria Lopez" in t for t in texts(teams, maria.id)),
             "return list")
    assert not [r for r in teams.refused if "Throttled" not in r[1]], teams.refused

    # A lead for Alex, who cannot be reached on Teams: the managers are told what to do.
    body = json.dumps({"source": "website", "external_id": "t-2", "name": "Lee Park",
                       "phone": "+15125550101", "community": "Lakeview"}).encode()
    assert httpx.post(f"{base}/leads", content=body, headers=signed_headers(
        "lead-secret", path="/leads", body=body, t=int(time.time()))).status_code == 202
    warning = wait_for(lambda: [m for m in teams.messages(TEAM_ID)
                                if "cannot reach Alex Chen" in card_text(m)], "manager alert")[0]
    assert "Add them to the team" in card_text(warning)
    assert "<at>Dana Brooks</at>" in card_text(warning)
