"""Durations as people write them in app.yaml: `5m`, `24h`, `3d`, `2w`, `90s`."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import InvalidInput

_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse `5m`, `24h`, `3d`, `2w` or `90s` into a timedelta; raise InvalidInput otherwise."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a duration; write a whole number and a unit, like 5m, 24h, 3d or 2w"
        )
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise InvalidInput(f"{text!r} must be longer than zero")
    return timedelta(**{_UNITS[unit]: amount})


def humanize(value: timedelta) -> str:
    """Say a duration the way a person would: `12 minutes`, `3 hours`, `2 days`."""
    seconds = int(value.total_seconds())
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
