"""A CRM as its users meet it: `oscbot drill` and a long leave in `oscbot shell`, with the
production wiring talking to a local HubSpot fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.handlers.console.test_shell import EXAMPLE, oscbot
from tests.routing.fake_hubspot import FakeHubSpot

pytestmark = pytest.mark.slow

TOKEN = "pat-e2e"
MARIA, JORDAN = "maria@riverside-homes.example", "jordan@riverside-homes.example"


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    now = datetime.now(UTC)
    with FakeHubSpot(token=TOKEN, owners={MARIA: "101", JORDAN: "202"}) as fake:
        fake.put("tasks", "9001", hubspot_owner_id="101", hs_task_status="NOT_STARTED",
                 hs_timestamp=ms(now + timedelta(days=2)))
        fake.put("contacts", "5001", hubspot_owner_id="101",
                 createdate=ms(now - timedelta(days=20)))
        yield fake


def config_for(fake: FakeHubSpot, directory: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  leads: { adapter: builtin }        # oscbot's own lead routing",
        f"  leads: {{ adapter: hubspot, settings: {{ base_url: '{fake.url}' }} }}")
    assert "adapter: hubspot" in text
    path = directory / "app.yaml"
    path.write_text(text.replace("calendars/", f"{EXAMPLE.parent}/calendars/"),
                    encoding="utf-8")
    return path


def test_drill_checks_both_people_in_hubspot(hubspot: FakeHubSpot, tmp_path: Path) -> None:
    env = {"OSCBOT_CONFIG": str(config_for(hubspot, tmp_path)), "HUBSPOT_ACCESS_TOKEN": TOKEN}
    ready = oscbot("drill", MARIA, cwd=tmp_path, env=env)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "leads (hubspot): ready" in ready.stdout
    assert [r for r in hubspot.requests if r.method == "PATCH"] == []  # a search is a POST

    del hubspot.owners[JORDAN]
    missing = oscbot("drill", MARIA, cwd=tmp_path, env=env)
    assert missing.returncode == 1
    assert "NOT READY" in missing.stdout and "Jordan Kim" in missing.stdout


def test_a_long_leave_in_the_shell_moves_hubspot_tasks_and_back(
        hubspot: FakeHubSpot, tmp_path: Path) -> None:
    env = {"OSCBOT_CONFIG": str(config_for(hubspot, tmp_path)), "HUBSPOT_ACCESS_TOKEN": TOKEN}
    away = oscbot("shell", cwd=tmp_path, env=env,
                  stdin="/going-on-leave now 30d leave\n/quit\n")
    assert away.returncode == 0, away.stderr
    assert hubspot.owner_of("tasks", "9001") == "202"
    assert hubspot.owner_of("contacts", "5001") == "101"
    assert "1 task moved to Jordan Kim" in away.stdout

    back = oscbot("shell", cwd=tmp_path, env=env, stdin="/im-back\n/quit\n")
    assert back.returncode == 0, back.stderr
    assert hubspot.owner_of("tasks", "9001") == "101"
    assert "1 task back with Maria Lopez" in back.stdout
