"""The one settings object, built from the environment once at start-up."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_API_DEFAULT = "https://slack.com/api/"
TEAMS_SERVICE_DEFAULT = "https://smba.trafficmanager.net/teams"
GRAPH_BASE_DEFAULT = "https://graph.microsoft.com/v1.0"


class Settings(BaseSettings):
    """Environment settings; secrets live here, never in app.yaml."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    config_path: Path = Field(default=Path("app.yaml"),
                              validation_alias=AliasChoices("OSCBOT_CONFIG"))
    database_url: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_API_DEFAULT
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    lead_webhook_secret: SecretStr | None = None
    google_application_credentials: Path | None = None
    graph_client_id: str | None = None
    graph_client_secret: SecretStr | None = None
    graph_tenant_id: str | None = None
    graph_base_url: str = GRAPH_BASE_DEFAULT
    graph_token_url: str | None = None
    port: int = 3000
    teams_client_id: str | None = None
    teams_client_secret: SecretStr | None = None
    teams_tenant_id: str | None = None
    teams_service_url: str = TEAMS_SERVICE_DEFAULT
    teams_dangerously_allow_unauthenticated: bool = False
    slack_timeout: int = 10
    job_every: str = Field(default="", validation_alias=AliasChoices("OSCBOT_JOB_EVERY"))
    public_url: str | None = Field(default=None,
                                   validation_alias=AliasChoices("OSCBOT_PUBLIC_URL"))
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("OSCBOT_LOG_LEVEL"))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from an explicit environment mapping (the composition root's copy)."""
        known = {name for name, info in cls.model_fields.items()
                 if info.validation_alias is None}
        return cls.model_validate({k.lower(): v for k, v in env.items()
                                   if k.lower() in known})


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def configure_logging(level: str) -> None:
    """Log to stderr at `level` (one of LOG_LEVELS; OSCBOT_LOG_LEVEL or --log-level)."""
    name = level.upper()
    if name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(level=name, format="%(asctime)s %(levelname)s %(name)s %(message)s",
                        force=True)
