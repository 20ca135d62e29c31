"""Multi-workspace install: Slack OAuth with slack_sdk's SQLAlchemy installation and
state stores, on oscbot's own database.

`/slack/install` starts the flow, `/slack/oauth_redirect` finishes it and stores the
workspace's bot token; Bolt then authorises each request by its team, and the
delivery port reads the newest bot token for the team from the same tables.
"""

from __future__ import annotations

import threading

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine, desc, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.context import AppContext
from bot.errors import ChatError
from handlers.slack.app import register
from storage.engine import normalize_url

BOT_SCOPES = ("app_mentions:read", "channels:read", "chat:write", "chat:write.public",
              "commands", "files:write", "groups:read", "im:write", "users:read",
              "users:read.email")


def async_url(database_url: str | None) -> str:
    """The async driver URL for the same database (aiosqlite, psycopg async)."""
    url = normalize_url(database_url)
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return url


class OAuthInstall:
    """The Bolt app in OAuth mode and the stores behind it."""

    def __init__(self, ctx: AppContext, *, client_id: str, client_secret: str,
                 signing_secret: str, api_url: str, database_url: str | None,
                 redirect_uri: str | None = None) -> None:
        # Parameters stay out of error messages: an installation row holds the bot token.
        self.engine: AsyncEngine = create_async_engine(async_url(database_url),
                                                       hide_parameters=True)
        self.installations = AsyncSQLAlchemyInstallationStore(client_id=client_id,
                                                              engine=self.engine)
        self.states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600,
                                                     engine=self.engine)
        self.app = AsyncApp(
            signing_secret=signing_secret, process_before_response=True,
            client=AsyncWebClient(base_url=api_url),
            oauth_settings=AsyncOAuthSettings(
                client_id=client_id, client_secret=client_secret, scopes=list(BOT_SCOPES),
                installation_store=self.installations, state_store=self.states,
                redirect_uri=redirect_uri, install_page_rendering_enabled=False))
        register(self.app, ctx)

    async def create_tables(self) -> None:
        """Create the installation and state tables if they are missing."""
        await self.installations.create_tables()  # type: ignore[no-untyped-call]
        await self.states.create_tables()  # type: ignore[no-untyped-call]


class InstalledBotToken:
    """The newest installed bot token (optionally for one team), read when needed."""

    def __init__(self, *, engine: Engine, client_id: str, team_id: str | None) -> None:
        self._store = SQLAlchemyInstallationStore(client_id=client_id, engine=engine)
        self._client_id = client_id
        self.team_id = team_id
        self._lock = threading.Lock()

    def __call__(self) -> str:
        """The token, or ChatError saying how to install the app."""
        bots = self._store.bots
        query = select(bots.c.bot_token).where(bots.c.client_id == self._client_id,
                                               bots.c.bot_token.is_not(None))
        if self.team_id:
            query = query.where(bots.c.team_id == self.team_id)
        with self._lock, self._store.engine.connect() as connection:
            token = connection.execute(query.order_by(desc(bots.c.installed_at))
                                       .limit(1)).scalar()
        if not token:
            raise ChatError("oscbot is not installed in the Slack workspace yet: open "
                            "/slack/install on the oscbot server", transient=True)
        return str(token)
