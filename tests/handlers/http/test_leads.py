"""Lead intake over real HTTP: signed, validated, idempotent, nothing half-written."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.fakes.chat import RecordingChat
from bot.fakes.clock import FixedClock
from bot.ports.repositories import Repositories
from handlers.http.app import create_app
from handlers.http.leads import MAX_BODY
from handlers.http.signing import SIGNATURE_HEADER, signature_header, signed_headers
from handlers.wiring import build_context
from tests.handlers.slack.test_app import Server

SECRET = "test-webhook-secret"
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # the `clock` fixture's instant
GOOD = {"source": "website", "external_id": "f-8812", "name": "Pat Doe",
        "email": "pat@example.com", "phone": "+15125550100", "community": "Riverside",
        "message": "Is the 3-bed plan still available?", "received_at": "2026-11-30T15:04:05Z"}


@pytest.fixture
def ctx(config: AppConfig, clock: FixedClock, repos: Repositories) -> AppContext:
    return build_context(config=config, repos=repos, clock=clock,
                         chat=RecordingChat(), sources={}, sleep=lambda _: None)


class Swappable:
    """One loopback server for the module; each test plugs in an app of its own."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Swappable]]:
    swappable = Swappable()
    with Server(swappable) as base:
        yield base, swappable


@pytest.fixture
def client(ctx: AppContext, server: tuple[str, Swappable]) -> Iterator[httpx.Client]:
    base, swappable = server
    swappable.app = create_app(ctx, lead_secret=SECRET)
    with httpx.Client(base_url=base, timeout=10) as http:
        yield http


def post(client: httpx.Client, path: str, body: object, *, secret: str = SECRET,
         raw: bytes | None = None, t: datetime | None = None,
         signed_path: str | None = None) -> tuple[int, dict[str, object]]:
    data = raw if raw is not None else json.dumps(body).encode()
    stamp = int((t or NOW).timestamp())
    response = client.post(path, content=data, headers=signed_headers(
        secret, path=signed_path or path, body=data, t=stamp))
    return response.status_code, response.json()


def eventually(check: Callable[[], bool], seconds: float = 5) -> None:
    """Wait for work the server does after answering (the DM goes out in the background)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def stored(repos: Repositories) -> int:
    return len(repos.leads.list())


def test_new_lead_is_accepted_routed_and_dm_queued(client: httpx.Client, ctx: AppContext,
                                                   repos: Repositories) -> None:
    status, body = post(client, "/leads", GOOD)
    assert status == 202
    assert body == {"id": 1, "assigned_to": "maria@rh.example",
                    "reason": "Maria owns Riverside"}
    lead = repos.leads.get(1)
    assert lead.received_at == datetime(2026, 11, 30, 15, 4, 5, tzinfo=UTC)
    eventually(lambda: (card := repos.outbox.get("lead-card:1")) is not None
               and card.status.value == "sent")
    assert isinstance(ctx.chat, RecordingChat)
    assert ctx.chat.transcript[0].target == "maria@rh.example"
    assert "contact within 5 minutes" in ctx.chat.transcript[0].message.text


def test_duplicate_returns_the_first_leads_id_with_200(client: httpx.Client,
                                                       ctx: AppContext,
                                                       repos: Repositories) -> None:
    post(client, "/leads", GOOD)
    status, body = post(client, "/leads", {**GOOD, "name": "Someone Else"})
    assert (status, body["id"]) == (200, 1)
    assert stored(repos) == 1


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"email": None, "phone": None}, "email", "needs an email or a phone"),
    ({"email": "not-an-email"}, "email", "is not an email address"),
    ({"phone": "call me maybe"}, "phone", "phone must be digits"),
    ({"community": "Atlantis"}, "community", "unknown community"),
    ({"external_id": 8812}, "external_id", "valid string"),
    ({"surprise": "field"}, "surprise", "unknown field"),
    ({"received_at": "yesterday"}, "received_at", "datetime"),
    ({"received_at": "2026-11-30T15:04:05"}, "received_at", "time zone"),
    ({"source": ""}, "source", "at least 1 character"),
    ({"community": "Riverside", "store": "Lakeview"}, "store", "not both"),
])
def test_bad_input_gets_a_specific_400_and_stores_nothing(
        client: httpx.Client, ctx: AppContext, change: dict[str, object], field: str,
        words: str, repos: Repositories) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    status, answer = post(client, "/leads", body)
    assert status == 400
    assert answer["field"] == field
    assert words in str(answer["error"])
    assert stored(repos) == 0
    assert repos.outbox.due(now=datetime(2100, 1, 1, tzinfo=UTC)) == []


def test_missing_source_is_named(client: httpx.Client) -> None:
    status, answer = post(client, "/leads", {k: v for k, v in GOOD.items() if k != "source"})
    assert (status, answer["field"]) == (400, "source")


def test_not_json_and_not_an_object(client: httpx.Client) -> None:
    assert post(client, "/leads", None, raw=b"{nope")[1]["error"] == "body is not valid JSON"
    assert post(client, "/leads", [GOOD])[1]["error"] == "body must be a JSON object"


def test_bad_signature_is_401_and_stores_nothing(client: httpx.Client, ctx: AppContext,
                                                 repos: Repositories) -> None:
    status, _ = post(client, "/leads", GOOD, secret="wrong")
    assert status == 401
    unsigned = client.post("/leads", content=json.dumps(GOOD).encode())
    assert unsigned.status_code == 401
    assert SIGNATURE_HEADER in unsigned.json()["error"]
    old_style = client.post("/leads", content=json.dumps(GOOD).encode(), headers={
        SIGNATURE_HEADER: "sha256=" + "0" * 64})
    assert old_style.status_code == 401
    assert stored(repos) == 0


def test_oversized_body_is_413(client: httpx.Client, ctx: AppContext, repos: Repositories) -> None:
    huge = json.dumps({**GOOD, "message": "x" * MAX_BODY}).encode()
    status, _ = post(client, "/leads", None, raw=huge)
    assert status == 413
    assert stored(repos) == 0


def test_activity_webhook_stops_the_timer(client: httpx.Client, ctx: AppContext,
                                          repos: Repositories) -> None:
    post(client, "/leads", GOOD)
    status, _ = post(client, "/leads/1/activities", {
        "kind": "call", "direction": "outbound", "by": "maria@rh.example",
        "at": "2026-11-30T15:06:00Z", "two_way": True, "notes": "Connected"})
    assert status == 202
    lead = repos.leads.get(1)
    assert lead.status.value == "contacted"
    assert lead.first_contact_at == datetime(2026, 11, 30, 15, 6, tzinfo=UTC)
    assert post(client, "/leads/99/activities", {"kind": "call", "direction": "outbound",
                                                 "by": "maria@rh.example"})[0] == 404
    assert post(client, "/leads/1/activities", {"kind": "fax", "direction": "outbound",
                                                "by": "maria@rh.example"})[0] == 400


CALL = {"kind": "call", "direction": "outbound", "by": "maria@rh.example"}


def test_a_signed_activity_cannot_be_replayed_onto_another_lead(
        client: httpx.Client, ctx: AppContext, repos: Repositories) -> None:
    for n in (1, 2):
        post(client, "/leads", {**GOOD, "external_id": f"f-{n}"})
    data = json.dumps(CALL).encode()
    headers = signed_headers(SECRET, path="/leads/1/activities", body=data,
                             t=int(NOW.timestamp()))
    assert client.post("/leads/1/activities", content=data, headers=headers).status_code == 202
    replayed = client.post("/leads/2/activities", content=data, headers=headers)
    assert replayed.status_code == 401
    assert "v1 does not sign" in replayed.json()["error"]
    as_lead = client.post("/leads", content=data, headers=headers)
    assert as_lead.status_code == 401
    assert repos.leads.get(2).status.value == "new"
    assert len(repos.activities.for_lead(2)) == 0


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_stale_or_future_timestamp_is_refused_saying_why(
        client: httpx.Client, ctx: AppContext, skew: timedelta, repos: Repositories) -> None:
    status, answer = post(client, "/leads", GOOD, t=NOW + skew)
    assert status == 401
    assert "360 s away" in str(answer["error"]) and "at most 300 s" in str(answer["error"])
    assert stored(repos) == 0
    assert post(client, "/leads", GOOD, t=NOW - timedelta(minutes=4, seconds=59))[0] == 202


def test_the_query_string_is_not_part_of_the_signed_path(client: httpx.Client) -> None:
    status, _ = post(client, "/leads?utm_source=ads", GOOD, signed_path="/leads")
    assert status == 202


@pytest.mark.parametrize("header", [
    "t=abc,v1=00", "v1=00", "t=1,t=2,v1=00", f"t={10**30},v1=00", "t=,v1=", "garbage",
    "t=١٧٦٤٣٢٩٠٠٠,v1=00".encode(), b"t=1764511200,v1=\xff\xfe"])
def test_malformed_signature_headers_are_401(client: httpx.Client, header: str | bytes) -> None:
    answer = client.post("/leads", content=json.dumps(GOOD).encode(),
                         headers={SIGNATURE_HEADER: header})
    assert answer.status_code == 401


def test_key_rotation_accepts_either_secret(client: httpx.Client) -> None:
    data = json.dumps(GOOD).encode()
    t = int(NOW.timestamp())
    old = signature_header("old-secret", method="POST", path="/leads", body=data, t=t)
    new = signature_header(SECRET, method="POST", path="/leads", body=data, t=t)
    both = f"{old},v1={new.split('v1=')[1]}"
    assert client.post("/leads", content=data, headers={SIGNATURE_HEADER: both}
                       ).status_code == 202


def test_activities_are_idempotent_on_external_id(client: httpx.Client,
                                                  ctx: AppContext, repos: Repositories) -> None:
    post(client, "/leads", GOOD)
    first = post(client, "/leads/1/activities", {**CALL, "external_id": "crm-act-9"})
    again = post(client, "/leads/1/activities", {**CALL, "external_id": "crm-act-9",
                                                 "notes": "resent"})
    other = post(client, "/leads/1/activities", {**CALL, "external_id": "crm-act-10"})
    assert (first[0], again[0], other[0]) == (202, 200, 202)
    assert again[1]["id"] == first[1]["id"] != other[1]["id"]
    assert len(repos.activities.for_lead(1)) == 2


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/leads", {**GOOD, "received_at": "0001-01-01T00:00:00Z"}, "received_at"),
    ("/leads", {**GOOD, "received_at": "9999-12-31T23:59:59Z"}, "received_at"),
    ("/leads", {**GOOD, "received_at": "2024-11-30T00:00:00+14:00"}, "received_at"),
    ("/leads/1/activities", {**CALL, "at": "0001-01-01T00:00:00Z"}, "at"),
    ("/leads/1/activities", {**CALL, "at": "2027-01-01T00:00:00Z"}, "at"),
])
def test_timestamps_far_from_now_are_a_400_naming_the_accepted_range(
        client: httpx.Client, ctx: AppContext, path: str, body: dict[str, object],
        field: str, repos: Repositories) -> None:
    if path != "/leads":
        post(client, "/leads", GOOD)
    before = (stored(repos), len(repos.activities.for_lead(1)))
    status, answer = post(client, path, body)
    assert (status, answer["field"]) == (400, field)
    assert ("accepted from 2025-11-30T14:00:00Z to 2026-12-01T14:00:00Z"
            in str(answer["error"]))
    assert (stored(repos), len(repos.activities.for_lead(1))) == before


@pytest.mark.parametrize("depth", [1_000, 30_000])
def test_deeply_nested_json_is_a_400(client: httpx.Client, depth: int) -> None:
    for path in ("/leads", "/leads/1/activities"):
        status, answer = post(client, path, None, raw=b"[" * depth + b"]" * depth)
        assert status == 400
        assert answer["error"] in ("JSON nested too deeply", "body must be a JSON object")
    status, _ = post(client, "/leads", None, raw=b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    assert status == 400


@pytest.mark.parametrize("lead_id", [str(2**63), str(2**64 + 5), "0", "-1", "1e3", "abc"])
def test_lead_ids_that_cannot_exist_are_404(client: httpx.Client, lead_id: str) -> None:
    status, answer = post(client, f"/leads/{lead_id}/activities", CALL)
    assert status == 404
    assert "no lead" in str(answer["error"])
