"""Every problem in app.yaml and the environment, with file:line (`oscbot check`)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.config.loader import ConfigDocument, Loc, read_document, validate
from bot.config.model import AppConfig
from bot.config.urls import graph_cloud, is_loopback, login_cloud
from bot.errors import ConfigError, ConfigProblem

GRAPH_CREDENTIALS = ("GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET", "GRAPH_TENANT_ID")
GRAPH_TOKEN_TAIL = "/oauth2/v2.0/token"
ADAPTER_CREDENTIALS: dict[str, tuple[tuple[str, ...], ...]] = {
    "hubspot": (("HUBSPOT_ACCESS_TOKEN",),),
    # A connected app first (client credentials, then JWT bearer); the last two are
    # deprecated and warned about by salesforce_problems.
    "salesforce": (("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_DOMAIN"),
                   ("SALESFORCE_CLIENT_ID", "SALESFORCE_JWT_KEY_FILE", "SALESFORCE_USERNAME"),
                   ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"),
                   ("SALESFORCE_ACCESS_TOKEN", "SALESFORCE_INSTANCE_URL")),
    "lasso": (("LASSO_API_KEY",),),
    "google_group": (("GOOGLE_APPLICATION_CREDENTIALS",),),
    "gmail_filter": (("GOOGLE_APPLICATION_CREDENTIALS",),),
    "callrail": (("CALLRAIL_API_KEY",),),
    "m365_group": (GRAPH_CREDENTIALS,),
    "outlook_rule": (GRAPH_CREDENTIALS,),
    "twilio": (("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),),
}


def credential_problems(config: AppConfig, *, env: Mapping[str, str],
                        doc: ConfigDocument) -> list[ConfigProblem]:
    """Missing environment variables for Slack, lead intake and each routing adapter."""
    def missing(field: str, message: str, severity: str = "error") -> ConfigProblem:
        return ConfigProblem(file="environment", line=None, field=field, message=message,
                             severity=severity)

    problems = []
    has_http = "SLACK_BOT_TOKEN" in env and "SLACK_SIGNING_SECRET" in env
    has_socket = "SLACK_BOT_TOKEN" in env and "SLACK_APP_TOKEN" in env
    if config.team.chat == "teams":
        problems += teams_problems(env)
    elif not (has_http or has_socket):
        problems.append(missing("SLACK_BOT_TOKEN", "Slack is not configured (set "
                                "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN "
                                "for Socket Mode); only the console adapter works",
                                "warning"))
    if "LEAD_WEBHOOK_SECRET" not in env:
        problems.append(missing("LEAD_WEBHOOK_SECRET", "not set: POST /leads is disabled",
                                "warning"))
    for channel in ("leads", "email", "calls"):
        adapter = getattr(config.routing, channel).adapter
        options = ADAPTER_CREDENTIALS.get(adapter)
        if options and not any(all(name in env for name in option) for option in options):
            wanted = " or ".join("+".join(option) for option in options)
            problems.append(doc.problem(("routing", channel, "adapter"),
                                        f"adapter {adapter} needs {wanted} in the environment"))
        settings = getattr(config.routing, channel).settings
        at: Loc = ("routing", channel, "settings")
        if adapter == "google_group" and "admin_email" not in settings:
            problems.append(doc.problem((*at, "admin_email"), "Google Group routing acts as "
                                        "a Workspace admin; give the admin's email"))
        if adapter in ("gmail_filter", "outlook_rule") and not settings.get("lead_senders"):
            problems.append(doc.problem((*at, "lead_senders"), "list the addresses lead "
                                        "notifications come from, comma separated"))
        if adapter in ("hubspot", "salesforce", "lasso"):
            problems += crm_problems(config, adapter=adapter, settings=settings, doc=doc, at=at)
        if adapter == "salesforce":
            problems += salesforce_problems(env)
        if adapter == "m365_group":
            problems += [doc.problem(("people", index, "routing_ids"),
                                     f"{osc.name} needs m365_group: the object id or address "
                                     "of the group that receives their lead email")
                         for index, osc in enumerate(config.people)
                         if osc in config.oscs and "m365_group" not in osc.routing_ids]
        if adapter == "twilio":
            problems += twilio_problems(env, settings=settings, doc=doc, at=at)
        if adapter == "callrail" and "account_id" not in settings:
            problems.append(doc.problem((*at, "account_id"), "CallRail needs the account id "
                                        "(settings: {account_id: ACC...})"))
    return problems + graph_problems(config, env=env) + google_push_problems(config, env=env)


TWILIO_VOICE_PATH = "/voice/twilio"


def twilio_problems(env: Mapping[str, str], *, settings: Mapping[str, str],
                    doc: ConfigDocument, at: Loc) -> list[ConfigProblem]:
    """Twilio's voice webhook lives at OSCBOT_PUBLIC_URL/voice/twilio, and that one URL is
    what Twilio signs: a different `webhook_url` would pass the drill while every call
    got 403."""
    public = env.get("OSCBOT_PUBLIC_URL", "").rstrip("/")
    if not public:
        return [ConfigProblem(file="environment", line=None, field="OSCBOT_PUBLIC_URL",
                              message="Twilio calls oscbot's voice webhook at "
                              f"OSCBOT_PUBLIC_URL{TWILIO_VOICE_PATH}: set the public "
                              "https:// URL of oscbot")]
    expected = public + TWILIO_VOICE_PATH
    given = settings.get("webhook_url", "")
    if given and given.rstrip("/") != expected:
        return [doc.problem((*at, "webhook_url"), f"Twilio signs the URL it calls and oscbot "
                            f"checks that signature against {expected}; remove webhook_url "
                            "(the URL is OSCBOT_PUBLIC_URL + /voice/twilio) or fix "
                            "OSCBOT_PUBLIC_URL")]
    if given:
        return [doc.problem((*at, "webhook_url"), "no longer needed: the voice webhook is "
                            "OSCBOT_PUBLIC_URL + /voice/twilio", severity="warning")]
    return []


def google_push_problems(config: AppConfig, *, env: Mapping[str, str]) -> list[ConfigProblem]:
    """Google pushes calendar changes only to an HTTPS address: an http:// public URL
    would have every watch refused (calendars are then only polled)."""
    public = env.get("OSCBOT_PUBLIC_URL", "")
    google = [p.name for p in config.people if p.calendar and p.calendar.google]
    if not google or not public or public.startswith("https://"):
        return []
    return [ConfigProblem(file="environment", line=None, field="OSCBOT_PUBLIC_URL",
                          message=f"Google Calendar push ({', '.join(google)}) needs an "
                          "https:// address with a valid certificate; Google refuses "
                          f"{public.split('://')[0]}:// (until it is https, the calendars "
                          "are only polled)")]


def graph_problems(config: AppConfig, *, env: Mapping[str, str]) -> list[ConfigProblem]:
    """Microsoft Graph settings: credentials for Outlook calendars, URL shapes, and a token
    endpoint in the same cloud as Graph."""
    def problem(field: str, message: str, severity: str = "error") -> ConfigProblem:
        return ConfigProblem(file="environment", line=None, field=field, message=message,
                             severity=severity)

    problems = []
    outlook = [p.name for p in config.people if p.calendar and p.calendar.outlook]
    missing = [name for name in GRAPH_CREDENTIALS if not env.get(name)]
    if outlook and missing:
        problems.append(problem(missing[0], f"Outlook calendars ({', '.join(outlook)}) are "
                                f"read through Microsoft Graph: set {', '.join(missing)}"))
    token_url = env.get("GRAPH_TOKEN_URL", "")
    if token_url and not token_url.rstrip("/").endswith(GRAPH_TOKEN_TAIL):
        problems.append(problem("GRAPH_TOKEN_URL", "must be a tenant's token endpoint, like "
                                f"https://login.microsoftonline.com/TENANT{GRAPH_TOKEN_TAIL}"))
    for name in ("GRAPH_TOKEN_URL", "GRAPH_BASE_URL"):
        if env.get(name) and not env[name].startswith("https://"):
            problems.append(problem(name, "must be an https:// URL"))
    return problems + cloud_problems(env, problem)


def cloud_problems(env: Mapping[str, str], problem: Callable[..., ConfigProblem]
                   ) -> list[ConfigProblem]:
    """GRAPH_BASE_URL and GRAPH_TOKEN_URL in different Microsoft clouds (tokens of one are
    refused by the other), or a Graph host whose token endpoint oscbot cannot tell."""
    base = env.get("GRAPH_BASE_URL", "")
    token_url = env.get("GRAPH_TOKEN_URL", "")
    if not base:
        return []
    cloud = graph_cloud(base)
    if cloud is None and not token_url:
        return [problem("GRAPH_TOKEN_URL", "GRAPH_BASE_URL is not one of Microsoft's Graph "
                        "hosts, so tokens would come from the global "
                        "https://login.microsoftonline.com; set GRAPH_TOKEN_URL to the token "
                        "endpoint that Graph accepts", "warning")]
    token_cloud = login_cloud(token_url) if token_url else None
    if cloud is not None and token_cloud is not None and cloud[0] not in token_cloud:
        return [problem("GRAPH_TOKEN_URL", f"GRAPH_TOKEN_URL is a token endpoint of "
                        f"{token_cloud} but GRAPH_BASE_URL is Microsoft Graph for {cloud[0]}: "
                        "tokens of one cloud are refused by the other; remove GRAPH_TOKEN_URL "
                        f"(oscbot then uses {cloud[1]}) or make both the same cloud")]
    return []


def teams_problems(env: Mapping[str, str]) -> list[ConfigProblem]:
    """What Teams needs from the environment, and a loud word on unauthenticated mode."""
    def problem(field: str, message: str, severity: str = "error") -> ConfigProblem:
        return ConfigProblem(file="environment", line=None, field=field, message=message,
                             severity=severity)

    service = env.get("TEAMS_SERVICE_URL", "")
    if env.get("TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED", "").lower() in ("1", "true", "yes"):
        if is_loopback(service):
            return [problem("TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED",
                            "Teams requests are NOT authenticated (local testing only)",
                            "warning")]
        return [problem("TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED",
                        "ignored: TEAMS_SERVICE_URL is not a loopback address; set "
                        "TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID")]
    missing = [name for name in ("TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID")
               if not env.get(name)]
    if missing:
        return [problem(missing[0], "team.chat is teams but " + ", ".join(missing)
                        + " not set (from the Entra app registration of the bot; see the "
                        "README's Teams setup)")]
    return []


SALESFORCE_HOST = re.compile(r"^(https://)?[a-z0-9-]+(\.[a-z0-9-]+)*\.salesforce\.com/?$")
SALESFORCE_APP = ("set up a connected app (or external client app) for oscbot: "
                  "SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET and SALESFORCE_DOMAIN "
                  "(client credentials), see docs/configuration.md")


def salesforce_problems(env: Mapping[str, str]) -> list[ConfigProblem]:
    """How oscbot signs in to Salesforce: the connected app's settings, and a warning for
    the ways that stop working (SOAP login(), a pasted token)."""
    def problem(field: str, message: str, severity: str = "error") -> ConfigProblem:
        return ConfigProblem(file="environment", line=None, field=field, message=message,
                             severity=severity)

    problems = []
    domain = env.get("SALESFORCE_DOMAIN", "")
    if domain and domain.lower() not in ("login", "test") and not SALESFORCE_HOST.match(
            domain.lower()):
        problems.append(problem("SALESFORCE_DOMAIN", f"{domain!r} is not a Salesforce login "
                                "host; give your My Domain, like acme.my.salesforce.com "
                                "(Setup → My Domain), or login / test"))
    app = env.get("SALESFORCE_CLIENT_ID")
    if app and env.get("SALESFORCE_CLIENT_SECRET"):
        if domain.lower() in ("", "login", "test"):
            problems.append(problem("SALESFORCE_DOMAIN", "the client credentials flow is "
                                    "served only at your org's My Domain: set "
                                    "SALESFORCE_DOMAIN=acme.my.salesforce.com"))
        return problems
    if app and env.get("SALESFORCE_JWT_KEY_FILE"):
        key = env["SALESFORCE_JWT_KEY_FILE"]
        if not os.access(key, os.R_OK):
            problems.append(problem("SALESFORCE_JWT_KEY_FILE", f"cannot read {key}: the "
                                    "private key whose certificate is uploaded to the app"))
        if not env.get("SALESFORCE_USERNAME"):
            problems.append(problem("SALESFORCE_USERNAME", "the JWT bearer flow signs in as "
                                    "the integration user: give their username"))
        return problems
    if app:
        problems.append(problem("SALESFORCE_CLIENT_ID", "set SALESFORCE_CLIENT_SECRET (client "
                                "credentials) or SALESFORCE_JWT_KEY_FILE (JWT bearer) with it"))
    elif env.get("SALESFORCE_PASSWORD"):
        problems.append(problem("SALESFORCE_PASSWORD", "deprecated: a username and password "
                                "sign in with SOAP login(), which Salesforce refuses from API "
                                f"65.0 and retires in Summer '27; {SALESFORCE_APP}", "warning"))
    elif env.get("SALESFORCE_ACCESS_TOKEN"):
        problems.append(problem("SALESFORCE_ACCESS_TOKEN", "cannot be renewed: Salesforce "
                                "refuses it once its session ends (after two idle hours by "
                                f"default), in the middle of a leave; {SALESFORCE_APP}",
                                "warning"))
    return problems


def crm_problems(config: AppConfig, *, adapter: str, settings: Mapping[str, str],
                 doc: ConfigDocument, at: Loc) -> list[ConfigProblem]:
    """CRM settings that cannot work: a bad flag, or Lasso people without a user id."""
    problems = []
    keep = settings.get("keep_new_leads_with_backup", "false").lower()
    if keep not in ("true", "false"):
        problems.append(doc.problem((*at, "keep_new_leads_with_backup"),
                                    f"must be true or false, not {keep!r}"))
    if adapter == "lasso":
        covered = {p.email for p in config.oscs} | {b for p in config.oscs for b in p.backups}
        for index, person in enumerate(config.people):
            if person.email in covered and "lasso_user_id" not in person.routing_ids:
                problems.append(doc.problem(
                    ("people", index, "routing_ids"),
                    f"{person.name} ({person.email}) needs lasso_user_id (Lasso's API cannot "
                    "look users up by email)"))
    return problems


Online = Callable[[AppConfig, ConfigDocument], list[ConfigProblem]]


def check_config(path: Path, *, env: Mapping[str, str],
                 online: Online | None = None) -> list[ConfigProblem]:
    """Every error and warning for this config file and environment; with `online`, also
    what the chat platform says (run only when the file itself is valid)."""
    try:
        doc = read_document(path)
    except ConfigError as exc:
        return list(exc.problems)
    config, problems = validate(doc, env=env)
    if config is not None:
        problems += credential_problems(config, env=env, doc=doc)
        if online is not None and not any(p.is_error for p in problems):
            problems += online(config, doc)
    return problems
