"""`oscbot check` for the routing vendors: how oscbot signs in to Salesforce, Twilio's one
webhook URL, and Google Calendar push's HTTPS address."""

from __future__ import annotations

from pathlib import Path

from bot.config.check import check_config
from tests.bot.config.test_check import GOOD, write

BASE_ENV = {"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y", "LEAD_WEBHOOK_SECRET": "z"}
SALESFORCE = GOOD + "routing:\n  leads: {adapter: salesforce}\n"
APP = {"SALESFORCE_CLIENT_ID": "3MVG9", "SALESFORCE_CLIENT_SECRET": "s",
       "SALESFORCE_DOMAIN": "acme.my.salesforce.com"}


def problems(tmp_path: Path, text: str, env: dict[str, str]
             ) -> tuple[dict[str, str], dict[str, str]]:
    """(errors, warnings) by field."""
    found = check_config(write(tmp_path, text), env={**BASE_ENV, **env})
    return ({p.field: p.message for p in found if p.is_error},
            {p.field: p.message for p in found if not p.is_error})


def test_a_connected_app_with_client_credentials_is_the_clean_way(tmp_path: Path) -> None:
    assert problems(tmp_path, SALESFORCE, APP) == ({}, {})
    assert problems(tmp_path, SALESFORCE, {**APP, "SALESFORCE_DOMAIN": "https://acme--uat"
                                           ".sandbox.my.salesforce.com/"}) == ({}, {})


def test_client_credentials_need_the_my_domain(tmp_path: Path) -> None:
    errors, _ = problems(tmp_path, SALESFORCE, {**APP, "SALESFORCE_DOMAIN": "login"})
    assert "only at your org's My Domain" in errors["SALESFORCE_DOMAIN"]
    errors, _ = problems(tmp_path, SALESFORCE, {**APP, "SALESFORCE_DOMAIN": "acme.example"})
    assert "not a Salesforce login host" in errors["SALESFORCE_DOMAIN"]
    errors, _ = problems(tmp_path, SALESFORCE, {
        k: v for k, v in APP.items() if k != "SALESFORCE_CLIENT_SECRET"})
    assert "SALESFORCE_CLIENT_ID+SALESFORCE_CLIENT_SECRET+SALESFORCE_DOMAIN" in errors[
        "routing.leads.adapter"]


def test_the_jwt_bearer_flow_needs_a_readable_key_and_the_user(tmp_path: Path) -> None:
    key = tmp_path / "salesforce.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")
    env = {"SALESFORCE_CLIENT_ID": "3MVG9", "SALESFORCE_JWT_KEY_FILE": str(key),
           "SALESFORCE_USERNAME": "oscbot@rh.example"}
    assert problems(tmp_path, SALESFORCE, env) == ({}, {})
    errors, _ = problems(tmp_path, SALESFORCE, {**env, "SALESFORCE_JWT_KEY_FILE": str(
        tmp_path / "missing.key")})
    assert "cannot read" in errors["SALESFORCE_JWT_KEY_FILE"]


def test_the_password_and_pasted_token_ways_are_warned_about(tmp_path: Path) -> None:
    password = {"SALESFORCE_USERNAME": "u", "SALESFORCE_PASSWORD": "p",
                "SALESFORCE_SECURITY_TOKEN": "t"}
    errors, warnings = problems(tmp_path, SALESFORCE, password)
    assert errors == {}
    assert "refuses from API 65.0 and retires in Summer '27" in warnings["SALESFORCE_PASSWORD"]
    assert "SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET" in warnings["SALESFORCE_PASSWORD"]
    token = {"SALESFORCE_ACCESS_TOKEN": "00D!x", "SALESFORCE_INSTANCE_URL": "https://x"}
    errors, warnings = problems(tmp_path, SALESFORCE, token)
    assert errors == {} and "cannot be renewed" in warnings["SALESFORCE_ACCESS_TOKEN"]
    # with the connected app set up as well, it is used and nothing is warned about
    assert problems(tmp_path, SALESFORCE, {**password, **token, **APP}) == ({}, {})


TWILIO = GOOD.replace("    backups: [jordan@t.example]\n",
                      "    backups: [jordan@t.example]\n    routing_ids: {twilio_number: "
                      "'+15125559000'}\n") + "routing:\n  calls: {adapter: twilio}\n"
TWILIO_ENV = {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
              "OSCBOT_PUBLIC_URL": "https://oscbot.t.example"}


def test_twilios_webhook_is_one_url_under_the_public_url(tmp_path: Path) -> None:
    assert problems(tmp_path, TWILIO, TWILIO_ENV) == ({}, {})
    errors, _ = problems(tmp_path, TWILIO, {k: v for k, v in TWILIO_ENV.items()
                                            if k != "OSCBOT_PUBLIC_URL"})
    assert "OSCBOT_PUBLIC_URL/voice/twilio" in errors["OSCBOT_PUBLIC_URL"]
    other = TWILIO.replace("calls: {adapter: twilio}", "calls: {adapter: twilio, settings: "
                           "{webhook_url: 'https://proxy.t.example/voice/twilio'}}")
    errors, _ = problems(tmp_path, other, TWILIO_ENV)
    assert "against https://oscbot.t.example/voice/twilio; remove webhook_url" in errors[
        "routing.calls.settings.webhook_url"]
    same = other.replace("https://proxy.t.example", "https://oscbot.t.example")
    errors, warnings = problems(tmp_path, same, TWILIO_ENV)
    assert errors == {} and "no longer needed" in warnings["routing.calls.settings.webhook_url"]


GOOGLE = GOOD.replace("calendar: {ics: https://calendar.example/maria.ics}",
                      "calendar: {google: maria@t.example}")


def test_google_calendar_push_needs_an_https_public_url(tmp_path: Path) -> None:
    google = {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "key.json")}
    assert problems(tmp_path, GOOGLE, {**google, "OSCBOT_PUBLIC_URL": "https://o.t.example"}
                    )[0] == {}
    assert problems(tmp_path, GOOGLE, google)[0] == {}  # no push: calendars are polled
    errors, _ = problems(tmp_path, GOOGLE, {**google, "OSCBOT_PUBLIC_URL": "http://o.t.example"})
    assert errors["OSCBOT_PUBLIC_URL"] == (
        "Google Calendar push (Maria) needs an https:// address with a valid certificate; "
        "Google refuses http:// (until it is https, the calendars are only polled)")
    # an ICS-only team may run behind plain http
    assert problems(tmp_path, GOOD, {"OSCBOT_PUBLIC_URL": "http://o.t.example"})[0] == {}
