"""The sales team as configuration: the typed shape of `app.yaml`.

Loading (YAML with line numbers, `${ENV}` interpolation) and cross-checks live in
`bot.config.loader`; this module is only the shape and its per-field rules.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from bot.config.hours import parse_hours
from bot.durations import parse_duration
from bot.errors import InvalidInput


def _to_timedelta(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write it like 5m, 24h or 3d")
    try:
        return parse_duration(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


Duration = Annotated[timedelta, BeforeValidator(_to_timedelta)]


def check_time_zone(name: str) -> str:
    """Return `name` if it is a known IANA time zone, else raise ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like America/Chicago"
        ) from None
    return name


class Role(StrEnum):
    """What a person does on the team."""

    OSC = "osc"
    BACKUP = "backup"
    MANAGER = "manager"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatIds(_Strict):
    """Chat user ids; when absent oscbot looks people up by email."""

    slack: str | None = None
    teams: str | None = None


class CalendarConfig(_Strict):
    """Where a person's calendar is read from: an ICS file/URL, a Google calendar id, or an
    Outlook mailbox (read through Microsoft Graph)."""

    ics: str | None = None
    google: str | None = None
    outlook: str | None = None


class PersonConfig(_Strict):
    """One person on the team."""

    email: str
    name: str
    role: Role
    timezone: str | None = None
    phone: str | None = None
    chat: ChatIds = ChatIds()
    calendar: CalendarConfig | None = None
    communities: tuple[str, ...] = ()
    backups: tuple[str, ...] = ()
    trained: bool = False
    shadowed: bool = False
    max_active_leads: int = Field(default=25, ge=0)
    opt_in_new_leads: bool = True
    routing_ids: dict[str, str] = {}

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()

    @field_validator("backups")
    @classmethod
    def _lower_backups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.lower() for v in value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)


class TeamConfig(_Strict):
    """The team as a whole: its name, zone, channel and managers."""

    name: str
    timezone: str = "America/Chicago"
    channel: str
    managers: tuple[str, ...] = ()
    slack_team_id: str | None = None
    # Which chat platform serves the team; each has an adapter registered under this name.
    chat: Literal["slack", "teams"] = "slack"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("managers")
    @classmethod
    def _lower_managers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.lower() for v in value)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_ABSENCE_KEYWORDS: tuple[str, ...] = (
    "vacation", "pto", "leave", "maternity", "paternity", "parental", "sabbatical",
    "sick", "holiday", "day off", "days off", "ooo", "out of office", "oof",
)


class Policies(_Strict):
    """Timing rules, all with the seeds' defaults."""

    speed_to_lead: Duration = timedelta(minutes=5)
    escalate_after: Duration = timedelta(minutes=15)
    follow_up: tuple[Duration, ...] = (timedelta(hours=24), timedelta(days=3), timedelta(days=7))
    nurture_every: Duration = timedelta(days=90)
    long_term_after: Duration = timedelta(days=14)
    coverage_protection: Duration = timedelta(days=7)
    min_absence: Duration = timedelta(hours=4)
    heads_up_before: Duration = timedelta(days=1)
    absence_keywords: tuple[str, ...] = DEFAULT_ABSENCE_KEYWORDS
    # A calendar feed larger than this is refused whole (real ones are well under 1 MB).
    calendar_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Reading one calendar (fetch, parse, expand) stops after this long.
    calendar_read_budget: Duration = timedelta(seconds=10)
    # When messages that are not urgent may reach someone, in their own time zone.
    working_hours: str = "08:00-18:00"
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(d.lower()[:3] for d in value)
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown or not days:
            raise ValueError(f"working days must be among {', '.join(WEEKDAYS)}")
        return days


class RoutingChannelConfig(_Strict):
    """Which adapter switches one routing channel, with adapter-specific settings."""

    adapter: str = "manual"
    settings: dict[str, str] = {}


class RoutingConfig(_Strict):
    """Adapters for the three routing channels."""

    leads: RoutingChannelConfig = RoutingChannelConfig(adapter="builtin")
    email: RoutingChannelConfig = RoutingChannelConfig()
    calls: RoutingChannelConfig = RoutingChannelConfig()


class AppConfig(_Strict):
    """The whole of `app.yaml`."""

    version: Literal[1] = 1
    team: TeamConfig
    people: tuple[PersonConfig, ...]
    policies: Policies = Policies()
    routing: RoutingConfig = RoutingConfig()

    def person(self, email: str) -> PersonConfig:
        """The person with this email; KeyError when unknown."""
        wanted = email.lower()
        for person in self.people:
            if person.email == wanted:
                return person
        raise KeyError(email)

    def find_person(self, email: str) -> PersonConfig | None:
        """The person with this email, or None."""
        try:
            return self.person(email)
        except KeyError:
            return None

    @property
    def oscs(self) -> tuple[PersonConfig, ...]:
        """Everyone whose role is OSC."""
        return tuple(p for p in self.people if p.role is Role.OSC)

    def is_manager(self, email: str) -> bool:
        """True for a team manager (listed under team.managers or role manager)."""
        wanted = email.lower()
        person = self.find_person(wanted)
        return wanted in self.team.managers or (person is not None and person.role is Role.MANAGER)

    def zone_of(self, email: str) -> str:
        """The time zone to show this person times in (their own, else the team's)."""
        person = self.find_person(email)
        return (person.timezone if person and person.timezone else None) or self.team.timezone

    def communities(self) -> set[str]:
        """Every community or store some OSC owns."""
        return {c for p in self.oscs for c in p.communities}
