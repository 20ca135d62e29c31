"""`oscbot run` as a real process under hostile input: Slack bodies refused at the door
with 4xx and no traceback, and logs that hold no lead data, tokens or OAuth codes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from handlers.http.signing import signed_headers
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.handlers.http.test_server import EXAMPLE
from tests.processes import free_port, oscbot_run

pytestmark = pytest.mark.slow

LEAD_SECRET = "lead-secret-8c1f0e"
SLACK_SECRET = "slack-signing-secret-51d2"
EVERY_FIELD = {"source": "zillow-feed", "external_id": "crm-lead-777123",
               "name": "Zelda Quasimodo", "email": "zelda.q@example.org",
               "phone": "+15125559876", "community": "Lakeview",
               "message": "Looking for a four-bedroom near the lake schools"}


@dataclass
class Running:
    base: str
    log: Path
    db: Path
    slack: FakeSlack

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("run")
    port = free_port()
    log = folder / "oscbot.log"
    db = folder / "run.db"
    with FakeSlack() as slack, log.open("wb") as sink:
        for n, who in enumerate(("maria", "alex", "jordan", "sam", "priya", "dana")):
            slack.add_user(f"{who}@riverside-homes.example", f"U{n:04d}")
        env = {**os.environ, "PORT": str(port), "OSCBOT_CONFIG": str(EXAMPLE),
               "DATABASE_URL": f"sqlite:///{db}", "SLACK_BOT_TOKEN": TOKEN,
               "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": slack.url,
               "LEAD_WEBHOOK_SECRET": LEAD_SECRET}
        with oscbot_run(env, folder, sink=sink) as running:
            yield Running(running.base, log, db, slack)


def slack_signed(body: bytes, content_type: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest(),
            "Content-Type": content_type}


def test_slack_events_answer_bad_bodies_with_4xx_and_log_no_traceback(
        running: Running) -> None:
    url = f"{running.base}/slack/events"
    before = len(running.output())
    form = "application/x-www-form-urlencoded"
    deep = b"[" * 30_000 + b"]" * 30_000
    cases: list[tuple[bytes, dict[str, str], int]] = [
        (b"{", {"Content-Type": "application/json"}, 401),  # unsigned
        (b"{", slack_signed(b"{", "application/json"), 400),
        (b"payload=%7B", slack_signed(b"payload=%7B", form), 400),
        (b"payload=%5B1%5D", slack_signed(b"payload=%5B1%5D", form), 400),
        (b"\xff\xfe{", slack_signed(b"\xff\xfe{", "application/json"), 401),
        (deep, slack_signed(deep, "application/json"), 400),
        (b"x" * (2 << 20), {"Content-Type": form}, 413),
    ]
    for body, headers, status in cases:
        assert httpx.post(url, content=body, headers=headers, timeout=10).status_code == status

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while streaming
        for _ in range(64):
            yield b"y" * 65_536

    try:
        streamed = httpx.post(url, content=chunks(), headers={"Content-Type": form},
                              timeout=10).status_code
    except httpx.HTTPError:
        streamed = 413  # the server may close the connection once it has answered
    assert streamed == 413
    time.sleep(0.3)
    new = running.output()[before:]
    assert "Traceback" not in new and " 500" not in new
    assert httpx.get(f"{running.base}/healthz").status_code == 200


def test_logs_hold_no_lead_field_token_or_oauth_code(running: Running) -> None:
    with sqlite3.connect(running.db) as db:  # the database refuses one insert, as a full
        db.execute("CREATE TRIGGER refuse_lead BEFORE INSERT ON leads "  # disk would
                   "WHEN NEW.source = 'refused-feed' "
                   "BEGIN SELECT RAISE(ABORT, 'lead insert refused'); END")
    stamp = int(time.time())
    for body in (EVERY_FIELD, {**EVERY_FIELD, "source": "refused-feed"}):
        data = json.dumps(body).encode()
        httpx.post(f"{running.base}/leads", content=data, timeout=10,
                   headers=signed_headers(LEAD_SECRET, path="/leads", body=data, t=stamp))
    query = urlencode({"code": "oauth-code-31337", "state": "state-4242"})
    httpx.get(f"{running.base}/slack/oauth_redirect?{query}", timeout=10)
    httpx.get(f"{running.base}/healthz?token={TOKEN}", timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not running.slack.calls("chat.postMessage"):
        time.sleep(0.1)
    assert running.slack.calls("chat.postMessage"), "the lead's DM went out"
    time.sleep(0.3)
    logged = running.output()
    assert "lead insert refused" in logged  # the failure is logged ...
    assert "/slack/oauth_redirect" in logged  # ... and so is the request, without its query
    leaks = [value for value in (*EVERY_FIELD.values(), "oauth-code-31337", "state-4242",
                                 TOKEN, LEAD_SECRET, SLACK_SECRET) if value in logged]
    assert leaks == []


def test_slack_certificate_probe_is_answered_without_a_signature(running: Running) -> None:
    probe = httpx.post(f"{running.base}/slack/events", content=b"ssl_check=1&token=x",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert probe.status_code == 200 and probe.content == b""
