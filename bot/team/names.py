"""How a person is named in messages: their display name from app.yaml, or their email."""

from __future__ import annotations

from bot.config.model import AppConfig
from bot.messages import (
    outside,
)


def name_of(config: AppConfig, email: str | None) -> str:
    """A person's display name, or their email when they are not on the team."""
    if email is None:
        return "nobody"
    person = config.find_person(email)
    return person.name if person else email


def named(config: AppConfig, email: str | None) -> str:
    """`name_of` marked as outside text, for messages (names are data, not markup)."""
    return "nobody" if email is None else outside(name_of(config, email))
