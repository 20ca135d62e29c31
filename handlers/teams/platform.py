"""How `oscbot run` builds Teams when app.yaml says `team.chat: teams`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from microsoft_teams.api.auth.cloud_environment import CloudEnvironment

from bot.config.model import AppConfig
from bot.config.settings import Settings
from bot.config.urls import is_loopback
from bot.context import AppContext
from bot.messages import Header, Message, Section, mention
from bot.ports.chat import ChatPort
from bot.ports.clock import Clock
from bot.team.names import name_of
from handlers.teams.app import TeamsApp, mount
from handlers.teams.chat import TeamsChat
from handlers.teams.endpoint import TeamsSettings
from handlers.teams.history import GraphHistory


def teams_chat(settings: Settings, *, clock: Clock) -> Callable[[AppConfig], ChatPort]:
    """A factory for the Teams chat port, with conversation references in the database."""
    from storage.conversation_refs import SqlConversationRefs
    from storage.engine import engine_from_url

    def make(config: AppConfig) -> ChatPort:
        teams = TeamsSettings.from_settings(settings)
        chat = TeamsChat(refs=SqlConversationRefs(engine_from_url(settings.database_url)),
                         clock=clock, service_url=teams.service_url, tenant_id=teams.tenant_id,
                         bot_id=f"28:{teams.client_id}" if teams.client_id else "28:oscbot",
                         names={p.email: p.name for p in config.people},
                         channel=config.team.channel)
        # Unsure channel posts are looked up in Graph; without tokens only a local Graph.
        if not teams.unauthenticated or is_loopback(settings.graph_base_url):
            chat.history = GraphHistory(base_url=settings.graph_base_url,
                                        app_id=teams.client_id, token=chat.graph_token)
        return chat

    return make


def unreachable_alert(config: AppConfig, *, email: str, advice: str) -> Message:
    """The channel alert to managers when oscbot cannot message someone on Teams."""
    managers = " ".join(mention(m) for m in config.team.managers)
    name = name_of(config, email)
    return Message(text=f"oscbot cannot reach {name} on Teams.", blocks=(
        Header(f"⚠️ oscbot cannot reach {name} on Teams"),
        Section(f"{managers} {advice}".strip()),
    ), mentions=config.team.managers)


def mount_teams(ctx: AppContext, api: FastAPI, settings: Settings,
                cloud: CloudEnvironment | None = None) -> TeamsApp:
    """Mount POST /api/messages and wire Teams' chat port into the outbox."""
    chat = ctx.chat
    assert isinstance(chat, TeamsChat)

    def unreachable(email: str, advice: str) -> None:
        day = ctx.clock.now().date().isoformat()
        ctx.notifier.post(key=f"teams-unreachable:{email}:{day}",
                          message=unreachable_alert(ctx.config, email=email, advice=advice))

    chat.on_unreachable = unreachable
    return mount(ctx, api, chat=chat, settings=TeamsSettings.from_settings(settings),
                 cloud=cloud)
