"""The Teams SDK app mounted on oscbot's FastAPI server at POST /api/messages, and the one
place that routes each kind of activity to the unit that answers it.

Listeners are thin: find who is acting (AAD object id → roster email → app.yaml), call
the same command/action code as Slack, render a card.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI
from microsoft_teams.api.auth.cloud_environment import CloudEnvironment
from microsoft_teams.apps import App

from bot.context import AppContext
from handlers.teams.card_actions import CardActions
from handlers.teams.chat import TeamsChat
from handlers.teams.dialogs import LeaveDialog
from handlers.teams.endpoint import TeamsAdapter, TeamsSettings
from handlers.teams.installs import Installs
from handlers.teams.messages import Messages
from handlers.teams.turns import Turns


class TeamsApp:
    """The SDK app on our server, every listener registered; `start` opens the endpoint."""

    def __init__(self, sdk: App) -> None:
        self.sdk = sdk

    async def start(self) -> None:
        """Register the messaging endpoint (the SDK's JWT validation included)."""
        await self.sdk.initialize()


def mount(ctx: AppContext, api: FastAPI, *, chat: TeamsChat, settings: TeamsSettings,
          cloud: CloudEnvironment | None = None) -> TeamsApp:
    """Create the SDK app with our adapter and route every activity oscbot answers."""
    adapter = TeamsAdapter(api, tenant_id=settings.tenant_id)
    if settings.unauthenticated:
        sdk = App(http_server_adapter=adapter, dangerously_allow_unauthenticated_requests=True,
                  service_url=settings.service_url)
    else:
        sdk = App(http_server_adapter=adapter, client_id=settings.client_id,
                  client_secret=settings.client_secret, tenant_id=settings.tenant_id,
                  service_url=settings.service_url, cloud=cloud,
                  dangerously_allow_unauthenticated_requests=False)
    chat.use_token_provider(None if settings.unauthenticated else sdk.token_provider)
    route(sdk, Turns(ctx, chat=chat, settings=settings))
    return TeamsApp(sdk)


def route(sdk: App, turns: Turns) -> None:
    """One listener per kind of activity, each in the unit named after its job."""
    installs = Installs(turns)
    sdk.on_conversation_update(installs.on_conversation_update)
    sdk.on_install_add(installs.on_install)
    sdk.on_message(Messages(turns).on_message)
    # Invoke answers are returned as Teams' wire JSON; the SDK passes dicts through.
    dialog = LeaveDialog(turns)
    sdk.on_dialog_open(cast(Any, dialog.on_open))
    sdk.on_dialog_submit(cast(Any, dialog.on_submit))
    sdk.on_card_action(cast(Any, CardActions(turns).on_card_action))
