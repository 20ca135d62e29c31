"""app.yaml's routing choices become the right adapters; missing secrets fall back to manual."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from handlers.wiring import routing_adapters
from tests.conftest import make_config

CLOCK = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
ROUTING = {"leads": {"adapter": "builtin"},
           "email": {"adapter": "gmail_filter",
                     "settings": {"lead_senders": "leads@rh.example"}},
           "calls": {"adapter": "callrail", "settings": {"account_id": "ACC1"}}}


def key_file(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "key.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "p", "private_key_id": "k",
        "private_key": pem, "client_email": "svc@p.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}))
    return path


def test_adapters_follow_app_yaml_and_the_environment(tmp_path: Path) -> None:
    config = make_config(routing=ROUTING)
    env = {"CALLRAIL_API_KEY": "k", "GOOGLE_APPLICATION_CREDENTIALS": str(key_file(tmp_path))}
    adapters = routing_adapters(config, in_memory_repositories(), env, clock=CLOCK)
    assert {c: a.name for c, a in adapters.items()} == {
        "leads": "builtin", "email": "gmail_filter", "calls": "callrail"}
    bare = routing_adapters(config, in_memory_repositories(), {}, clock=CLOCK)
    assert {c: a.name for c, a in bare.items()} == {
        "leads": "builtin", "email": "manual", "calls": "manual"}
    group = make_config(routing={"email": {"adapter": "google_group",
                                           "settings": {"admin_email": "it@rh.example"}}})
    assert routing_adapters(group, in_memory_repositories(), env, clock=CLOCK)["email"].name == (
        "google_group")


def test_crm_lead_adapters_are_chosen_when_their_credentials_are_set() -> None:
    cases = {
        "hubspot": {"HUBSPOT_ACCESS_TOKEN": "pat"},
        "salesforce": {"SALESFORCE_CLIENT_ID": "3MVG9", "SALESFORCE_CLIENT_SECRET": "s",
                       "SALESFORCE_DOMAIN": "rh.my.salesforce.com"},
        "lasso": {"LASSO_API_KEY": "k"},
    }
    for adapter, env in cases.items():
        config = make_config(routing={"leads": {"adapter": adapter, "settings": {
            "keep_new_leads_with_backup": "true"}}})
        leads = routing_adapters(config, in_memory_repositories(), env, clock=CLOCK)["leads"]
        assert leads.name == adapter
        missing = routing_adapters(config, in_memory_repositories(), {}, clock=CLOCK)["leads"]
        assert missing.name == "manual"
