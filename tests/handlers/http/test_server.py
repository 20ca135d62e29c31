"""`oscbot run` as an operator starts it: health, metrics, Slack commands, lead intake, and
the Slack app installed into a workspace through OAuth."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

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


def test_run_installs_through_oauth_then_sends_with_the_installed_token(tmp_path: Path) -> None:
    port = free_port()
    with FakeSlack() as slack:
        slack.add_user("alex@riverside-homes.example", "UALEX")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(PORT=str(port), OSCBOT_CONFIG=str(EXAMPLE),
                   DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
                   SLACK_CLIENT_ID="1111.2222", SLACK_CLIENT_SECRET="shh",
                   SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.url,
                   LEAD_WEBHOOK_SECRET="lead-secret")
        with oscbot_run(env, tmp_path) as running, \
                httpx.Client(base_url=running.base, follow_redirects=False) as browser:
            start = browser.get("/slack/install")
            assert start.status_code == 302
            state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]
            # Bolt marks the state cookie Secure; over loopback HTTP the test sends it itself.
            cookie = start.headers["Set-Cookie"].split(";")[0]
            finish = browser.get("/slack/oauth_redirect", headers={"Cookie": cookie},
                                 params={"code": "install-code", "state": state})
            assert finish.status_code == 200, finish.text
            body = json.dumps({"source": "website", "external_id": "oauth-1", "name": "Pat Doe",
                               "phone": "+15125550100", "community": "Lakeview"}).encode()
            assert browser.post("/leads", content=body, headers=signed_headers(
                "lead-secret", path="/leads", body=body, t=int(time.time()))).status_code == 202
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not slack.calls("chat.postMessage"):
                time.sleep(0.1)
        sent = [c for c in slack.calls_made if c.method == "chat.postMessage" and c.status == 200]
        assert sent and sent[0].headers["Authorization"] == "Bearer xoxb-installed-token"
