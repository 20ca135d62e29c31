"""Real `oscbot run` replicas on one database against the fake Slack, for fault tests."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from handlers.http.signing import signed_headers
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.processes import OSCBOT, READY_SECONDS, free_port, log_tail, wait_until_ready

EXAMPLE = Path(__file__).resolve().parents[2] / "bot" / "config" / "examples" / "app.yaml"
LEAD_SECRET = "cluster-lead-secret"
COMMUNITIES = ("Riverside", "Oak Hill", "Lakeview")


@functools.cache
def http() -> httpx.Client:
    """One client for every sender thread: building an httpx client per request costs tens
    of milliseconds of CPU (its TLS context), which capped the senders, not the replicas.
    Built on first use, not at import, so collecting the tests does not pay for it."""
    return httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64,
                                                        max_keepalive_connections=64))


def team_config(folder: Path, *, oscs: int = 0, **policies: str) -> Path:
    """The example team with the given policies and no calendars (nothing to read), and
    `oscs` more counselors with a community each (leads spread over more conversations,
    as in a larger sales team)."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    for person in data["people"]:
        person.pop("calendar", None)
    for n in range(oscs):
        data["people"].append({
            "email": f"osc{n}@riverside-homes.example", "name": f"Counselor {n}",
            "role": "osc", "communities": [f"Community {n}"],
            "backups": ["jordan@riverside-homes.example", "sam@riverside-homes.example"]})
    data["policies"].update(policies)
    path = folder / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def communities(config: Path) -> list[str]:
    """Every community the team's counselors answer for, in the file's order."""
    return [c for person in yaml.safe_load(config.read_text())["people"]
            for c in person.get("communities", [])]


def slack_users(slack: FakeSlack, config: Path) -> None:
    """Every person of the team is a member of the fake workspace."""
    for n, person in enumerate(yaml.safe_load(config.read_text())["people"]):
        slack.add_user(person["email"], f"U{n:03d}", person["name"])


class Replica:
    """One `oscbot run` process."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []

    @property
    def base(self) -> str:
        """Its HTTP address."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (logs go to a file next to the database)."""
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                [*OSCBOT, "run"],
                env=self.env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)

    @property
    def log_path(self) -> Path:
        """Where its output goes (every start appends)."""
        return self.folder / f"{self.name}.log"

    def wait_ready(self, seconds: float = READY_SECONDS) -> None:
        """Until /readyz answers 200; fails loudly (exit code, log tail) if it never does."""
        assert self.process is not None, f"{self.name} was never started"
        wait_until_ready(self.name, self.base, self.process, log=self.log_path,
                         seconds=seconds)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.exits.append(self.process.wait(10))

    def terminate(self, timeout: float = 40) -> int:
        """SIGTERM and wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.exits.append(code)
        return code

    def log(self) -> str:
        """The end of its log."""
        return log_tail(self.log_path)


@contextmanager
def cluster(folder: Path, database_url: str, slack_url: str, config: Path,
            replicas: int = 3, **extra: str) -> Iterator[list[Replica]]:
    """Start `replicas` processes together (they migrate the empty database once)."""
    env = {**os.environ, "OSCBOT_CONFIG": str(config), "DATABASE_URL": database_url,
           "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack_url,
           "LEAD_WEBHOOK_SECRET": LEAD_SECRET, **extra}
    env.pop("SLACK_SIGNING_SECRET", None)
    nodes = [Replica(f"replica-{n}", env, folder) for n in range(replicas)]
    for node in nodes:
        node.start()
    try:
        for node in nodes:
            node.wait_ready()
        yield nodes
    finally:
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.kill()
                node.process.wait(10)


def _post_until_accepted(nodes: list[Replica], n: int, path: str, body: bytes) -> int:
    """POST a signed body to the replicas in turn (starting at `n`), as a lead source
    retries, until one accepts it (2xx) or two minutes pass; returns the id it answers."""
    last = "nothing tried"
    deadline = time.monotonic() + 120
    attempt = 0
    while time.monotonic() < deadline:
        headers = signed_headers(LEAD_SECRET, path=path, body=body, t=int(time.time()))
        node = nodes[(n + attempt) % len(nodes)]
        attempt += 1
        try:
            answer = http().post(f"{node.base}{path}", content=body, headers=headers)
        except httpx.HTTPError as exc:
            last = f"{node.name}: {type(exc).__name__} {exc}"
            time.sleep(0.1)
            continue
        if answer.status_code in (200, 201, 202):
            return int(answer.json()["id"])
        last = f"{node.name}: HTTP {answer.status_code} {answer.text[:200]}"
        time.sleep(0.1)
    raise AssertionError(f"{path} ({n}) was never accepted in {attempt} tries; last: {last}")


def send_lead(nodes: list[Replica], n: int, *, first: int = 0,
              community: str | None = None) -> int:
    """POST lead `n` to a replica (round-robin), retrying on the others like a lead source
    does until one accepts it; returns the lead id."""
    body = json.dumps({"source": "website", "external_id": f"lead-{n}", "name": f"Buyer {n}",
                       "phone": f"+1512555{n % 10_000:04d}",
                       "community": community or COMMUNITIES[n % 3],
                       "message": "Is the model home open?"}).encode()
    return _post_until_accepted(nodes, first + n, "/leads", body)


def send_contact(nodes: list[Replica], lead_id: int, by: str) -> int:
    """The CRM reports an outbound call on the lead (idempotent on its external id)."""
    body = json.dumps({"kind": "call", "direction": "outbound", "by": by,
                       "external_id": f"call-{lead_id}"}).encode()
    return _post_until_accepted(nodes, lead_id, f"/leads/{lead_id}/activities", body)
