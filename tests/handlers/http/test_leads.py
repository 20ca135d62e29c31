"""Lead intake over HTTP: signed, validated, idempotent, nothing half-written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from bot.config import AppConfig
from bot.fakes import FixedClock, RecordingChat, in_memory_repositories
from bot.ports import Repositories
from handlers.context import AppContext, build_context
from handlers.http.app import create_app
from handlers.http.leads import MAX_BODY, sign

SECRET = "test-webhook-secret"
GOOD = {"source": "website", "external_id": "f-8812", "name": "Pat Doe",
        "email": "pat@example.com", "phone": "+15125550100", "community": "Riverside",
        "message": "Is the 3-bed plan still available?", "received_at": "2026-11-30T15:04:05Z"}


@pytest.fixture
def ctx(config: AppConfig, clock: FixedClock) -> AppContext:
    return build_context(config=config, repos=in_memory_repositories(), clock=clock,
                         chat=RecordingChat(), sources={}, sleep=lambda _: None)


@pytest.fixture
def client(ctx: AppContext) -> TestClient:
    return TestClient(create_app(ctx, lead_secret=SECRET))


def post(client: TestClient, path: str, body: object, *, secret: str = SECRET,
         raw: bytes | None = None) -> tuple[int, dict[str, object]]:
    data = raw if raw is not None else json.dumps(body).encode()
    response = client.post(path, content=data, headers={
        "Content-Type": "application/json", "X-OSCBot-Signature": sign(data, secret)})
    return response.status_code, response.json()


def stored(repos: Repositories) -> int:
    return len(repos.leads.list())


def test_new_lead_is_accepted_routed_and_dm_queued(client: TestClient, ctx: AppContext) -> None:
    status, body = post(client, "/leads", GOOD)
    assert status == 202
    assert body == {"id": 1, "assigned_to": "maria@rh.example",
                    "reason": "Maria owns Riverside"}
    lead = ctx.repos.leads.get(1)
    assert lead.received_at == datetime(2026, 11, 30, 15, 4, 5, tzinfo=UTC)
    card = ctx.repos.outbox.get("lead-card:1")
    assert card is not None and card.status.value == "sent"
    assert isinstance(ctx.chat, RecordingChat)
    assert ctx.chat.transcript[0].target == "maria@rh.example"
    assert "contact within 5 minutes" in ctx.chat.transcript[0].message.text


def test_duplicate_returns_the_first_leads_id_with_200(client: TestClient,
                                                       ctx: AppContext) -> None:
    post(client, "/leads", GOOD)
    status, body = post(client, "/leads", {**GOOD, "name": "Someone Else"})
    assert (status, body["id"]) == (200, 1)
    assert stored(ctx.repos) == 1


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
        client: TestClient, ctx: AppContext, change: dict[str, object], field: str,
        words: str) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    status, answer = post(client, "/leads", body)
    assert status == 400
    assert answer["field"] == field
    assert words in str(answer["error"])
    assert stored(ctx.repos) == 0
    assert ctx.repos.outbox.due(now=datetime(2100, 1, 1, tzinfo=UTC)) == []


def test_missing_source_is_named(client: TestClient) -> None:
    status, answer = post(client, "/leads", {k: v for k, v in GOOD.items() if k != "source"})
    assert (status, answer["field"]) == (400, "source")


def test_not_json_and_not_an_object(client: TestClient) -> None:
    assert post(client, "/leads", None, raw=b"{nope")[1]["error"] == "body is not valid JSON"
    assert post(client, "/leads", [GOOD])[1]["error"] == "body must be a JSON object"


def test_bad_signature_is_401_and_stores_nothing(client: TestClient, ctx: AppContext) -> None:
    status, _ = post(client, "/leads", GOOD, secret="wrong")
    assert status == 401
    unsigned = client.post("/leads", content=json.dumps(GOOD).encode())
    assert unsigned.status_code == 401
    assert stored(ctx.repos) == 0


def test_oversized_body_is_413(client: TestClient, ctx: AppContext) -> None:
    huge = json.dumps({**GOOD, "message": "x" * MAX_BODY}).encode()
    status, _ = post(client, "/leads", None, raw=huge)
    assert status == 413
    assert stored(ctx.repos) == 0


def test_activity_webhook_stops_the_timer(client: TestClient, ctx: AppContext) -> None:
    post(client, "/leads", GOOD)
    status, _ = post(client, "/leads/1/activities", {
        "kind": "call", "direction": "outbound", "by": "maria@rh.example",
        "at": "2026-11-30T15:06:00Z", "two_way": True, "notes": "Connected"})
    assert status == 202
    lead = ctx.repos.leads.get(1)
    assert lead.status.value == "contacted"
    assert lead.first_contact_at == datetime(2026, 11, 30, 15, 6, tzinfo=UTC)
    assert post(client, "/leads/99/activities", {"kind": "call", "direction": "outbound",
                                                 "by": "maria@rh.example"})[0] == 404
    assert post(client, "/leads/1/activities", {"kind": "fax", "direction": "outbound",
                                                "by": "maria@rh.example"})[0] == 400
