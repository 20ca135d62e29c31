"""The calendar sources, found by the key a person's `calendar:` uses in app.yaml.

`calendars.<kind>` reads calendars of that kind (`ics`, `google`, `outlook`) and
declares how one is built: `source(where: str, setup: CalendarSetup) -> CalendarSource
| None`, where None means its credentials are not configured. A new kind of calendar
is a new module here and a key in `bot.config.model.CalendarConfig`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.model import AppConfig, CalendarConfig, Policies
from bot.ports.calendars import CalendarSource

if TYPE_CHECKING:
    from m365.graph import GraphClient

KINDS = tuple(CalendarConfig.model_fields)


@dataclass(frozen=True)
class CalendarSetup:
    """What a calendar source is built from: whose it is, the zone to read it in, the
    policies (keywords, limits), and the credentials of the services behind it."""

    osc_email: str
    zone: str
    policies: Policies
    # app.yaml's folder: a relative ICS path is read from there.
    base: Path
    google_key: Path | None
    # The one Graph client calendars and routing share (None without Graph credentials).
    graph: Callable[[], GraphClient | None]


def calendar_sources(config: AppConfig, *, base: Path, google_key: Path | None,
                     graph: Callable[[], GraphClient | None]) -> dict[str, CalendarSource]:
    """A calendar source for every OSC whose calendar app.yaml names and whose service's
    credentials are set: the first of `ics`, `google`, `outlook` that can be read."""
    sources: dict[str, CalendarSource] = {}
    for osc in config.oscs:
        if osc.calendar is None:
            continue
        setup = CalendarSetup(osc_email=osc.email, zone=config.zone_of(osc.email),
                              policies=config.policies, base=base, google_key=google_key,
                              graph=graph)
        for kind in KINDS:
            where = getattr(osc.calendar, kind)
            source = where and importlib.import_module(f"calendars.{kind}").source(where, setup)
            if source:
                sources[osc.email] = source
                break
    return sources
