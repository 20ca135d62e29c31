"""The one settings object, built from the environment once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_API_DEFAULT = "https://slack.com/api/"


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
    port: int = 3000
    slack_timeout: int = 10
    job_every: str = Field(default="", validation_alias=AliasChoices("OSCBOT_JOB_EVERY"))
    public_url: str | None = Field(default=None,
                                   validation_alias=AliasChoices("OSCBOT_PUBLIC_URL"))

    @property
    def slack_enabled(self) -> bool:
        """True when a Slack bot token is configured."""
        return self.slack_bot_token is not None
