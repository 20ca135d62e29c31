"""`oscbot run` as an operator starts it: health, metrics, Slack commands, lead intake."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config.examples import EXAMPLE_CONFIG
from handlers.http.signing import signed_headers
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.handlers.slack.test_app import SECRET, command
from tests.processes import free_port, oscbot_run

pytestmark = pytest.mark.slow

EXAMPLE = EXAMPLE_CONFIG




@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, FakeSlack]]:
    port = free_port()
    with FakeSlack() as slack:
        slack.add_user("dana@riverside-homes.example", "UDANA")
        env = {**os.environ, "PORT": str(port), "OSCBOT_CONFIG": str(EXAMPLE),
               "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
               "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": slack.url, "LEAD_WEBHOOK_SECRET": "lead-secret"}
        with oscbot_run(env, tmp_path) as running:
            yield running.base, slack


def test_run_serves_health_metrics_slack_and_leads(server: tuple[str, FakeSlack]) -> None:
    base, slack = server
    assert httpx.get(f"{base}/healthz").json() == {"ok": True, "open_coverages": 0}
    assert 'oscbot_http_requests_total{route="/healthz",status="200"}' in httpx.get(
        f"{base}/metrics").text
    assert command(base, "/coverage", "UDANA").status_code == 200
    body = json.dumps({"source": "website", "external_id": "run-1", "name": "Pat Doe",
                       "phone": "+15125550100", "community": "Lakeview"}).encode()
    answer = httpx.post(f"{base}/leads", content=body, headers=signed_headers(
        "lead-secret", path="/leads", body=body, t=int(time.time())))
    assert answer.status_code == 202
    assert answer.json()["assigned_to"] == "alex@riverside-homes.example"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not slack.calls("users.lookupByEmail"):
        time.sleep(0.1)
    assert slack.calls("users.lookupByEmail")[0]["email"] == "alex@riverside-homes.example"
