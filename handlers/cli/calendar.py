"""`oscbot calendar scan`: the absences one ICS file or URL contains."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.calendar.absences import is_long_term
from bot.calendar.scan import PersonCalendars, combined, person_calendars, rows
from bot.config.model import Policies
from bot.errors import CalendarError
from bot.ports.calendars import CalendarRead, CalendarSource
from calendars.ics import IcsSource
from calendars.ics_feed import one_line

calendar_app = typer.Typer(no_args_is_help=True)


@calendar_app.callback()
def calendar() -> None:
    """Read calendars for absences."""


def scan_json(read: CalendarRead, policies: Policies) -> dict[str, Any]:
    """The `calendar scan --json` document."""
    return {
        "absences": [{
            "start": a.start.astimezone(UTC).isoformat(),
            "end": a.end.astimezone(UTC).isoformat(),
            "kind": a.kind.value, "all_day": a.all_day,
            "long_term": is_long_term(a, policies), "summary": a.summary,
            "uids": list(a.uids)} for a in read.absences],
        "skipped": [{"uid": s.uid, "reason": s.reason} for s in read.skipped],
        "warnings": [{"uid": w.uid, "reason": w.reason} for w in read.warnings],
    }


def _die(message: str) -> typer.Exit:
    sys.stderr.write(one_line(f"oscbot: {message}") + "\n")
    return typer.Exit(2)


def _policies(config: Path | None) -> Policies:
    if config is None:
        return Policies()
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        return Policies.model_validate(data.get("policies") or {})
    except (OSError, yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise _die(f"{config}: cannot read policies ({str(exc).splitlines()[0]})") from None


def _day(text: str | None, zone: ZoneInfo, default: date) -> datetime:
    try:
        day = date.fromisoformat(text) if text else default
    except ValueError:
        raise _die(f"{text!r} is not a date; write YYYY-MM-DD") from None
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _outlook(mailbox: str, *, tz: str, policies: Policies) -> CalendarSource:
    """The mailbox's Outlook calendar, read with the app's Graph credentials."""
    import os

    from calendars.outlook import OutlookCalendarSource
    from m365.graph import graph_client_from_env

    client = graph_client_from_env(dict(os.environ))
    if client is None:
        raise _die("--outlook needs GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET and GRAPH_TENANT_ID")
    return OutlookCalendarSource(client=client, mailbox=mailbox, time_zone=tz,
                                 policies=policies)


@calendar_app.command("scan")
def scan(
    sources: Annotated[list[str] | None, typer.Argument(
        help="One or more .ics files or http(s) URLs of one person, read as one.")] = None,
    tz: Annotated[str | None, typer.Option(
        "--tz", help="The person's IANA time zone (default with --person: theirs in "
                     "app.yaml).")] = None,
    person: Annotated[str | None, typer.Option(
        "--person", help="Read this person's calendars as app.yaml gives them, in their "
                         "zone.")] = None,
    outlook: Annotated[str | None, typer.Option(
        "--outlook", help="Read this mailbox's Outlook calendar through Microsoft Graph "
                          "(GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day (default today).")]
    = None,
    to: Annotated[str | None, typer.Option("--to", help="Day after the last (default +365).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: Annotated[Path | None, typer.Option(
        help="app.yaml for policies and --person (default with --person: ./app.yaml).")]
    = None,
) -> None:
    """Print the absences found in a person's calendars, merged, each whole."""
    locations = list(sources or ())
    if locations and outlook is not None:
        raise _die("give .ics files or URLs, or --outlook EMAIL, not both")
    if person is not None:
        found = _person(config or Path("app.yaml"), person)
        config = config or Path("app.yaml")
        tz = tz or found.zone
        locations += found.ics
        outlook = outlook or found.outlook
    if tz is None:
        raise _die("give --tz ZONE (or --person EMAIL to take it from app.yaml)")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _die(f"unknown time zone {tz!r}; use an IANA name like America/Chicago") from None
    policies = _policies(config)
    today = datetime.now(zone).date()
    start = _day(from_, zone, today)
    end = _day(to, zone, start.astimezone(zone).date() + timedelta(days=365))
    if end <= start:
        raise _die("--to must be after --from")
    if not locations and outlook is None:
        raise _die("give .ics files or URLs, --outlook EMAIL, or --person EMAIL")
    reads = []
    for where in [*locations, *([None] if outlook else [])]:
        try:
            calendar: CalendarSource = (IcsSource(where, time_zone=tz, policies=policies)
                                        if where is not None else
                                        _outlook(outlook or "", tz=tz, policies=policies))
            reads.append(calendar.read(start=start, end=end, cursor={}))
        except CalendarError as exc:
            raise _die(str(exc)) from None
        except Exception as exc:  # the border: whatever a library raises is one line, exit 2
            raise _die(f"{where or outlook}: cannot read the calendar "
                       f"({type(exc).__name__}: {exc})") from None
    read = combined(reads)
    if as_json:
        sys.stdout.write(json.dumps(scan_json(read, policies), indent=2) + "\n")
        return
    names = ", ".join([*locations, *([outlook] if outlook else [])])
    table = Table(title=Text(f"Absences in {one_line(person or names, 120)} ({tz})"))
    for column in ("from", "until", "kind", "long-term", "summary"):
        table.add_column(column)
    for row in rows(read.absences, tz):
        long_term = row.first is not None and is_long_term(row.first, policies)
        summary = row.summary + (f" ({row.times} times)" if row.times > 1 else "")
        table.add_row(row.start, row.until, row.kind, "yes" if long_term else "",
                      Text(one_line(summary, 80)))
    console = Console()
    console.print(table)
    console.print(f"{len(read.skipped)} events skipped, {len(read.warnings)} warnings "
                  "(use --json to see why).")


def _person(config: Path, email: str) -> PersonCalendars:
    """The person's calendars and zone from app.yaml, or one clear line and exit 2."""
    import os

    from bot.config.loader import load_config
    from bot.errors import ConfigError

    try:
        team = load_config(config, env=dict(os.environ))
        return person_calendars(team, email, base=str(config.resolve().parent))
    except ConfigError as exc:
        raise _die(f"{config}: {exc.problems[0] if exc.problems else exc}") from None
    except KeyError as exc:
        raise _die(str(exc.args[0])) from None
