"""Fuzzing the three public endpoints over real HTTP: generated bodies get 2xx or 4xx,
never a 500, and a refused request leaves nothing behind (checked in the SQLite file)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config.model import AppConfig
from bot.fakes.clock import FixedClock
from bot.messages import ActionId
from handlers.http.app import create_app
from handlers.http.signing import signed_headers
from handlers.slack.app import build_slack_app
from handlers.slack.chat import SlackChat
from handlers.wiring import build_context
from storage.engine import engine_from_url
from storage.migrate import upgrade
from storage.repositories import sql_repositories
from tests.fakes.slack_api import TOKEN, FakeSlack
from tests.handlers.slack.test_app import SECRET as SLACK_SECRET
from tests.handlers.slack.test_app import USERS, Server, signed

LEAD_SECRET = "fuzz-lead-secret"
T0 = datetime(2026, 11, 30, 14, tzinfo=UTC)
FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@dataclass
class Target:
    http: httpx.Client
    db: Path

    def count(self, table: str) -> int:
        with sqlite3.connect(self.db) as connection:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def post(self, path: str, body: bytes) -> httpx.Response:
        return self.http.post(path, content=body, headers=signed_headers(
            LEAD_SECRET, path=path.split("?")[0], body=body, t=int(T0.timestamp())))


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from tests.conftest import make_config

    config: AppConfig = make_config()
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    upgrade(f"sqlite:///{db}")
    with FakeSlack() as slack:
        for user_id, email in USERS.items():
            slack.add_user(email, user_id)
        chat = SlackChat(token=TOKEN, api_url=slack.url, names={})
        ctx = build_context(config=config, repos=sql_repositories(
            engine_from_url(f"sqlite:///{db}")), clock=FixedClock(T0), chat=chat, sources={},
            sleep=lambda _: None)
        bolt = build_slack_app(ctx, token=TOKEN, signing_secret=SLACK_SECRET, api_url=slack.url)
        with Server(create_app(ctx, lead_secret=LEAD_SECRET, slack=bolt)) as base, \
                httpx.Client(base_url=base, timeout=30) as http:
            target = Target(http, db)
            seed = json.dumps({"source": "seed", "external_id": "s-1",
                               "phone": "+15125550100"}).encode()
            assert target.post("/leads", seed).status_code == 202
            yield target


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=40), st.sampled_from([
                        "", " ", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                        "2026-11-30T13:59:00Z", "2026-11-30T13:59:00", "Riverside", "Atlantis",
                        "pat@example.com", "@", "+15125550100", "call", "outbound", "x" * 6000,
                        "maria@rh.example", "1e400", "\u0000", "\ud7ff"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
LEAD_FIELDS = ["source", "external_id", "name", "email", "phone", "community", "store",
               "message", "received_at"]
ACTIVITY_FIELDS = ["kind", "direction", "by", "at", "two_way", "notes", "external_id"]


def bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Objects mostly made of the endpoint's own fields, plus arbitrary JSON and bytes."""
    objects = st.dictionaries(st.one_of(st.sampled_from(fields), st.text(max_size=8)),
                              json_values, max_size=len(fields) + 1)
    return st.one_of(
        objects.map(lambda o: json.dumps(o).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=300),
        st.integers(min_value=1, max_value=40_000).map(lambda n: b"[" * n + b"]" * n),
    )


@FUZZ
@given(body=bodies(LEAD_FIELDS))
def test_leads_never_500_and_refusals_store_nothing(target: Target, body: bytes) -> None:
    before = (target.count("leads"), target.count("outbox"))
    answer = target.post("/leads", body)
    assert answer.status_code < 500, answer.text
    if answer.status_code == 202:
        lead_id = answer.json()["id"]
        with sqlite3.connect(target.db) as connection:
            card = connection.execute("SELECT count(*) FROM outbox WHERE key = ?",
                                      (f"lead-card:{lead_id}",)).fetchone()[0]
        assert card == 1, "a stored lead always has its DM queued"
    elif answer.status_code != 200:
        assert (target.count("leads"), target.count("outbox")) == before


lead_ids = st.one_of(st.integers(min_value=-5, max_value=5).map(str),
                     st.integers(min_value=2**62, max_value=2**70).map(str),
                     st.text(alphabet="0123456789abcdef-+ .%", min_size=1, max_size=25))


@FUZZ
@given(lead_id=lead_ids, body=bodies(ACTIVITY_FIELDS))
def test_activities_never_500_and_refusals_store_nothing(target: Target, lead_id: str,
                                                         body: bytes) -> None:
    before = target.count("activities")
    answer = target.post(f"/leads/{lead_id}/activities", body)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert target.count("activities") == before


def slack_bodies() -> st.SearchStrategy[tuple[str, str]]:
    """(content type, body) shaped like Slack's: events JSON, slash-command forms and
    interactive payloads with our real action ids and view callback, filled with noise."""
    action = st.fixed_dictionaries({
        "action_id": st.sampled_from([a.value for a in ActionId] + ["nope"]),
        "value": st.one_of(st.text(max_size=25), st.integers().map(str))})
    interaction = st.fixed_dictionaries({
        "type": st.sampled_from(["block_actions", "view_submission", "shortcut", "bogus"]),
        "user": st.fixed_dictionaries({"id": st.sampled_from([*USERS, "UNKNOWN"])}),
        "team": st.just({"id": "T1"}),
        "actions": st.lists(action, max_size=2),
        "view": st.fixed_dictionaries({
            "callback_id": st.sampled_from(["going_on_leave", "other"]),
            "private_metadata": st.sampled_from(["maria@rh.example", "", "x"]),
            "state": st.fixed_dictionaries({"values": st.dictionaries(
                st.sampled_from(["start", "end", "kind", "backup", "notes", "emergency"]),
                st.dictionaries(st.just("value"), st.dictionaries(st.sampled_from(
                    ["type", "selected_date", "selected_option", "value",
                     "selected_options"]), json_values, max_size=2), max_size=1),
                max_size=6)})}),
    })
    command = st.fixed_dictionaries({
        "command": st.sampled_from(["/going-on-leave", "/coverage", "/im-back", "/oscbot",
                                    "/nope"]),
        "text": st.text(max_size=40), "user_id": st.sampled_from([*USERS, "UNKNOWN"]),
        "trigger_id": st.just("1.2.3"), "team_id": st.just("T1")})
    event = st.fixed_dictionaries({
        "type": st.sampled_from(["event_callback", "url_verification", "weird"]),
        "challenge": st.text(max_size=10), "team_id": st.just("T1"),
        "event_id": st.text(max_size=8),
        "event": st.dictionaries(st.sampled_from(["type", "user", "channel", "text"]),
                                 st.one_of(st.sampled_from(["app_home_opened",
                                                            "app_mention", "UMARIA"]),
                                           json_values), max_size=4)})
    form = "application/x-www-form-urlencoded"
    return st.one_of(
        interaction.map(lambda p: (form, urlencode({"payload": json.dumps(p)}))),
        command.map(lambda c: (form, urlencode(c))),
        event.map(lambda e: ("application/json", json.dumps(e))),
        json_values.map(lambda v: ("application/json", json.dumps(v))),
        st.text(max_size=200).map(lambda t: (form, t)),
    )


@FUZZ
@given(case=slack_bodies())
def test_slack_events_never_500(target: Target, case: tuple[str, str]) -> None:
    content_type, body = case
    answer = target.http.post("/slack/events", content=body.encode(),
                              headers=signed(body, content_type=content_type))
    assert answer.status_code < 500, (body[:300], answer.text[:300])
