"""Typed commands on Teams (the text after the @mention), the leave form's checks, and the
boundary: the core never imports the Teams SDK."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.config.model import AppConfig
from bot.context import AppContext
from bot.fakes.chat import InMemoryConversationRefs
from bot.fakes.clock import FixedClock
from bot.fakes.repositories import in_memory_repositories
from handlers.teams.chat import TeamsChat
from handlers.teams.forms import leave_card, read_leave
from handlers.teams.messages import addressed_to_bot, command, command_text
from handlers.wiring import build_context
from tests.fakes.bot_connector import FakeBotConnector

ROOT = Path(__file__).resolve().parents[3]
Ask = Callable[[str | None, str], tuple[dict[str, Any], bool]]


@pytest.fixture
def ask(config: AppConfig, clock: FixedClock) -> Ask:
    """A typed command as the Teams message listener answers it: (card, changed)."""
    refs = InMemoryConversationRefs()
    chat = TeamsChat(refs=refs, clock=clock, service_url="http://127.0.0.1:9", tenant_id="t",
                     bot_id="28:b", names={p.email: p.name for p in config.people})
    ctx: AppContext = build_context(config=config, repos=in_memory_repositories(),
                                    clock=clock, chat=chat, sources={})
    return lambda actor, text: command(ctx, actor, text, resolve=chat.mentionable)


def words(card: dict[str, object]) -> str:
    return " ".join(str(b.get("text", "")) for b in card["body"])  # type: ignore[attr-defined]


def test_the_mention_and_markup_are_stripped() -> None:
    assert command_text("<at>oscbot</at>&nbsp;im back <p>for</p> x@y.example") == (
        "im back for x@y.example")
    assert command_text(None) == ""


def test_only_messages_for_the_bot_are_commands() -> None:
    with FakeBotConnector() as teams:
        dana = teams.add_member("dana@rh.example", "Dana")
        mentioned = teams.message("coverage", user=dana)
        personal = teams.message("coverage", user=dana, personal=True)
        chatter = teams.message("lunch?", user=dana)
    assert addressed_to_bot(mentioned) and addressed_to_bot(personal)
    chatter["entities"] = [{"type": "mention", "text": "<at>Sam</at>",
                            "mentioned": {"id": "29:sam", "name": "Sam"}}]
    assert not addressed_to_bot(chatter)


def test_commands_route_like_the_console(ask: Ask) -> None:
    card, changed = ask("maria@rh.example", "going on leave")
    assert not changed
    assert card["actions"][0]["data"] == {"msteams": {"type": "task/fetch"}, "dialog": "leave",
                                          "osc": "maria@rh.example"}
    card, changed = ask("dana@rh.example",
                        "going on leave 2026-12-07 2026-12-09 sick for maria@rh.example")
    assert changed and "Coverage planned for Maria" in words(card)
    assert "Maria" in words(ask("dana@rh.example", "coverage")[0])
    assert "Practice run for Alex" in words(ask("dana@rh.example",
                                                "handoff drill alex@rh.example")[0])
    assert "Sorry — only managers" in words(ask("sam@rh.example",
                                                "calendar maria@rh.example")[0])
    assert "did not understand" in words(ask("sam@rh.example", "dance")[0])
    assert "not on the team" in words(ask(None, "coverage")[0])


def test_the_leave_form_offers_eligible_backups_and_checks_fields(config: AppConfig,
                                                                  clock: FixedClock) -> None:
    card = leave_card(config=config, actor="maria@rh.example", osc="maria@rh.example",
                      today=date(2026, 11, 30), eligible={"maria@rh.example": ["sam@rh.example"]},
                      errors={"end": "The last day is before the first day."})
    ids = [item.get("id") for item in card["body"]]
    assert "osc" not in ids and "end-error" in ids
    backup = next(i for i in card["body"] if i.get("id") == "backup")
    assert [c["value"] for c in backup["choices"]] == ["first-available", "sam@rh.example"]
    manager = leave_card(config=config, actor="dana@rh.example", osc="maria@rh.example",
                         today=date(2026, 11, 30), eligible={})
    assert "osc" in [item.get("id") for item in manager["body"]]
    form, errors = read_leave({"osc": "alex@rh.example", "start": "2026-12-01", "end": "x"},
                              actor="maria@rh.example", config=config, now=clock.now())
    assert form is None and set(errors) == {"osc", "end"}
    form, errors = read_leave({"start": "2026-12-01", "end": "2026-12-02", "kind": "sick",
                               "backup": "sam@rh.example"}, actor="maria@rh.example",
                              config=config, now=clock.now())
    assert errors == {} and form is not None and form.backup == "sam@rh.example"


def test_the_core_never_imports_the_teams_sdk() -> None:
    offenders = []
    # The CLI may build the app package, which is plain JSON and PNG: no SDK either.
    for path in [*(ROOT / "bot").rglob("*.py"), ROOT / "handlers" / "teams" / "package.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.startswith(("microsoft_teams", "handlers.teams"))
                          and n != "handlers.teams.package"]
    assert offenders == []
