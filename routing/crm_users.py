"""CRM user ids for people: configured in app.yaml, else looked up by email once."""

from __future__ import annotations

from collections.abc import Callable

from bot.config.model import PersonConfig
from bot.errors import RoutingError


class UserDirectory:
    """Resolves a person to their CRM user id and remembers the answer."""

    def __init__(self, *, vendor: str, routing_key: str,
                 lookup: Callable[[PersonConfig], str | None]) -> None:
        self._vendor = vendor
        self._routing_key = routing_key
        self._lookup = lookup
        self._ids: dict[str, str] = {}

    def user_id(self, person: PersonConfig) -> str:
        """`routing_ids[routing_key]`, else the lookup's answer; RoutingError when none."""
        configured = person.routing_ids.get(self._routing_key)
        if configured:
            return configured
        if person.email not in self._ids:
            found = self._lookup(person)
            if not found:
                raise RoutingError(
                    f"{person.name} ({person.email}) is not an active {self._vendor} user; "
                    f"add them in {self._vendor} or set routing_ids.{self._routing_key}")
            self._ids[person.email] = found
        return self._ids[person.email]
