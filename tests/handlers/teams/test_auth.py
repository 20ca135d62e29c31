"""Production mode: the SDK validates Bot Framework tokens (against a local OpenID key set)
and our gate serves only the configured tenant. Refused activities write nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.fakes.chat import InMemoryConversationRefs
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from handlers.http.app import create_app
from handlers.teams.chat import TeamsChat
from handlers.teams.endpoint import allow_unauthenticated
from handlers.teams.platform import mount_teams
from handlers.wiring import build_context
from tests.fakes.bot_connector import BOT_ID, TENANT, FakeBotConnector, post_activity
from tests.fakes.server import LoopbackServer, send_json
from tests.processes import ServedApp

APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://api.botframework.com"


class FakeOpenId(LoopbackServer):
    """The Bot Framework OpenID key set, served locally."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        keys = {"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                send_json(self, 200, keys)

        super().__init__(Handler)


def token(key: rsa.RSAPrivateKey, *, audience: str = APP_ID, service_url: str,
          kid: str = "test-key") -> str:
    now = datetime.now(UTC)
    return jwt.encode({"iss": ISSUER, "aud": audience, "serviceurl": service_url,
                       "iat": now, "nbf": now, "exp": now + timedelta(minutes=5)},
                      key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def served(config: AppConfig, clock: FixedClock) -> Iterator[dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with FakeOpenId(key) as openid, FakeBotConnector() as teams:
        refs = InMemoryConversationRefs()
        repos = in_memory_repositories()
        chat = TeamsChat(refs=refs, clock=clock, service_url=teams.url, tenant_id=TENANT,
                         bot_id=BOT_ID, names={})
        ctx = build_context(config=config, repos=repos, clock=clock, chat=chat, sources={})
        settings = Settings(teams_client_id=APP_ID, teams_client_secret="s",  # type: ignore[arg-type]
                            teams_tenant_id=TENANT, teams_service_url=teams.url)
        api: FastAPI = create_app(ctx, lead_secret=None)
        cloud = with_overrides(PUBLIC, openid_metadata_url=(
            f"{openid.base}/v1/.well-known/openidconfiguration"))
        bot = mount_teams(ctx, api, settings, cloud=cloud)
        asyncio.run(bot.start())
        with ServedApp(api, name="oscbot app") as base:
            yield {"endpoint": f"{base}/api/messages", "key": key,
                   "teams": teams, "refs": refs, "repos": repos}


def test_unauthenticated_wrong_audience_and_other_tenant_are_refused(
        served: dict[str, Any]) -> None:
    teams: FakeBotConnector = served["teams"]
    key = served["key"]
    endpoint = served["endpoint"]
    install = teams.install()
    assert post_activity(endpoint, install).status_code == 401
    assert post_activity(endpoint, install, token(
        key, audience="someone-else", service_url=teams.url)).status_code == 401
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert post_activity(endpoint, install, token(
        stranger, service_url=teams.url)).status_code == 401
    assert post_activity(endpoint, install, token(
        key, service_url="https://elsewhere.example")).status_code == 401
    other = teams.install(tenant="tenant-elsewhere")
    assert post_activity(endpoint, other, token(key, service_url=teams.url)).status_code == 403
    assert served["refs"].channels() == []
    assert served["repos"].outbox.pending() == []

    assert post_activity(endpoint, install, token(key, service_url=teams.url)).status_code == 200
    [channel] = served["refs"].channels()
    assert channel.tenant_id == TENANT and channel.team_id


def test_unauthenticated_mode_is_honoured_only_for_a_loopback_service() -> None:
    assert allow_unauthenticated(True, "http://127.0.0.1:3978")
    assert allow_unauthenticated(True, "http://localhost:56150/")
    assert not allow_unauthenticated(True, "https://smba.trafficmanager.net/teams")
    assert not allow_unauthenticated(True, "http://10.0.0.5:3978")
    assert not allow_unauthenticated(False, "http://127.0.0.1:3978")
