"""The `oscbot` command line. The composition root: the only part of `bot/` that
reaches out to adapters, and only inside the command that needs them.

Start-up matters (`oscbot --help` answers at once): this module imports only typer;
each command imports what it uses (settings, rich, the calendar libraries, the server
stack) when it runs. A test holds `--help` to that.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from bot.config.loader import ConfigDocument
    from bot.config.model import AppConfig
    from bot.config.settings import Settings
    from bot.errors import ConfigProblem

if TYPE_CHECKING:
    from bot.delivery.admin import OutboxAdmin

app = typer.Typer(
    name="oscbot", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    help="Keeps an online sales program running while its Online Sales Counselor is away.")
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
jobs_app = typer.Typer(help="Run scheduled jobs on demand.", no_args_is_help=True)
teams_app = typer.Typer(help="Microsoft Teams commands.", no_args_is_help=True)
outbox_app = typer.Typer(help="Outgoing messages: list, retry failed ones.",
                         no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(outbox_app, name="outbox")
app.add_typer(teams_app, name="teams")


ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Path to app.yaml (default: $OSCBOT_CONFIG or ./app.yaml).")]


class SystemClock:
    """The real clock, used only here at the edge."""

    def now(self) -> datetime:
        """The current UTC instant."""
        return datetime.now(UTC)


_options: dict[str, object] = {}


@app.callback()
def _global_options(
    log_level: Annotated[str | None, typer.Option(
        "--log-level", help="DEBUG, INFO, WARNING or ERROR (default: $OSCBOT_LOG_LEVEL or "
        "INFO).", show_default=False)] = None,
) -> None:
    if log_level is not None:
        from bot.config.settings import LOG_LEVELS

        if log_level.upper() not in LOG_LEVELS:
            raise _fail(f"unknown log level {log_level!r}; use one of {', '.join(LOG_LEVELS)}")
        _options["log_level"] = log_level.upper()


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def _settings(config: Path | None = None) -> Settings:
    from bot.config.settings import Settings

    settings = Settings().model_copy(update=_options)
    if config is not None:
        settings = settings.model_copy(update={"config_path": config})
    return settings


def _config_path(config: Path | None) -> Path:
    """app.yaml's path as Settings finds it, without loading pydantic-settings (a third
    of `oscbot check`'s start-up)."""
    if config is not None:
        return config
    named = {key.upper(): value for key, value in os.environ.items()}.get("OSCBOT_CONFIG")
    return Path(named) if named else Path("app.yaml")


def _fail(message: str, code: int = 2) -> typer.Exit:
    _console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def demo(config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Another copy of the example team's app.yaml (default: the "
        "one bundled with oscbot).")] = None) -> None:
    """Play a complete handoff offline on the bundled example team."""
    from handlers.console.demo import play
    from handlers.console.shell import guarded

    raise typer.Exit(guarded(_console(stderr=True), lambda: play(
        _console(), config_path=config, env=dict(os.environ))))


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Where to write (default: here).")] = Path("."),
    force: Annotated[bool, typer.Option(help="Replace files that already exist.")] = False,
) -> None:
    """Write a commented app.yaml starter and the example calendars into a folder."""
    from bot.config.starter import write_starter
    from bot.errors import InvalidInput

    try:
        written = write_starter(folder, force=force)
    except InvalidInput as exc:
        raise _fail(str(exc)) from None
    console = _console()
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    console.print("Next: edit app.yaml for your team, then run `oscbot check` "
                  "(`oscbot demo --config app.yaml` plays the example story on it).")


@app.command()
def shell(config: ConfigOption = None) -> None:
    """Interactive console: type /going-on-leave, /coverage, /im-back; press buttons by number."""
    from handlers.console.shell import run_shell

    raise typer.Exit(run_shell(_settings(config), console=_console(), clock=SystemClock()))


@app.command()
def run(config: ConfigOption = None) -> None:
    """Production: the HTTP server (Slack, Teams, lead intake, health, metrics) and scheduler."""
    from handlers.console.shell import guarded
    from handlers.http.server import serve

    def start() -> int:
        serve(_settings(config), clock=SystemClock())
        return 0

    raise typer.Exit(guarded(_console(stderr=True), start))


@app.command()
def check(config: ConfigOption = None,
          strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
          online: Annotated[bool, typer.Option(
              help="Also ask Slack (SLACK_API_URL) whether SLACK_BOT_TOKEN, its scopes and "
                   "the team channel work.")] = False,
          ) -> None:
    """Validate app.yaml and credentials; non-zero exit on problems."""
    from bot.config.check import Online
    from handlers.cli.check import check_command

    slack: Online | None = None
    if online:
        settings = _settings(config)
        if settings.slack_bot_token is None:
            raise _fail("--online needs SLACK_BOT_TOKEN in the environment", code=1)
        from handlers.slack.preflight import slack_problems

        token = settings.slack_bot_token.get_secret_value()

        def slack(app_config: AppConfig, doc: ConfigDocument) -> list[ConfigProblem]:
            return slack_problems(app_config, doc, token=token, api_url=settings.slack_api_url)

    raise typer.Exit(check_command(_config_path(config), env=dict(os.environ), strict=strict,
                                   console=_console(),
                                   online=slack))


@app.command()
def drill(osc_email: Annotated[str, typer.Argument(help="The OSC whose handoff to rehearse.")],
          config: ConfigOption = None) -> None:
    """Practice run of a handoff: reports what would fail; switches nothing."""
    from handlers.console.shell import drill_report

    code = drill_report(_settings(config), osc_email=osc_email, console=_console(),
                        clock=SystemClock())
    raise typer.Exit(code)


@app.command()
def report(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Where to write the CSV "
                                                  "(default report-YYYY-MM.csv).")] = None,
    config: ConfigOption = None,
) -> None:
    """Per-person numbers for a month: leads, time to first contact, contact rate, appointments."""
    from handlers.console.shell import print_report

    raise typer.Exit(print_report(_settings(config), month=month, csv_path=csv_path,
                                  console=_console(), clock=SystemClock()))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations to DATABASE_URL (default: a SQLite file)."""
    from handlers.console.shell import upgrade_database

    raise typer.Exit(upgrade_database(_settings(), console=_console()))


@jobs_app.command("list")
def jobs_list() -> None:
    """List the scheduled jobs."""
    from schedules.jobs import JOBS

    for entry in JOBS:
        _console().print(f"{entry.name:16} every {entry.every.total_seconds():>5.0f}s  "
                        f"{entry.description}")


@jobs_app.command("run")
def jobs_run(name: str, config: ConfigOption = None) -> None:
    """Run one job now (jobs are idempotent; running twice does no harm)."""
    from handlers.console.shell import run_job

    raise typer.Exit(run_job(_settings(config), name=name, console=_console(),
                             clock=SystemClock()))


@teams_app.command("package")
def teams_package(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the zip.")] = Path(
        "oscbot-teams.zip"),
    config: ConfigOption = None,
) -> None:
    """Write the Teams app package (manifest v1.30, icons) to upload in Teams."""
    from bot.config.loader import load_config
    from bot.errors import InvalidInput, OscbotError
    from handlers.teams.package import write_package

    settings = _settings(config)
    try:
        team = load_config(settings.config_path, env=dict(os.environ)).team.name if (
            settings.config_path.exists()) else ""
        write_package(out, bot_id=settings.teams_client_id or "",
                      public_url=settings.public_url or "", team_name=team)
    except InvalidInput as exc:
        raise _fail(f"{exc} (set {exc.field} in the environment)") from None
    except OscbotError as exc:
        raise _fail(str(exc)) from None
    _console().print(f"Wrote {out}: upload it in Teams (Apps → Manage your apps → "
                    "Upload an app), then add it to the sales team.", highlight=False)


def _outbox() -> OutboxAdmin:
    from handlers.wiring import outbox_admin

    return outbox_admin(_settings().database_url, clock=SystemClock())


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only messages that failed.")] = False,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """Counts by status and the newest messages with their last error."""
    from handlers.console.outbox import list_outbox
    from handlers.console.shell import guarded

    def run() -> int:
        return list_outbox(_outbox(), console=_console(), failed_only=failed,
                           limit=limit)

    raise typer.Exit(guarded(_console(stderr=True), run))


@outbox_app.command("retry")
def outbox_retry(key: Annotated[str, typer.Argument(help="The failed message's key.")]) -> None:
    """Send a failed message again (with a fresh 24-hour retry window)."""
    from handlers.console.outbox import retry_outbox
    from handlers.console.shell import guarded

    def run() -> int:
        return retry_outbox(_outbox(), key=key, console=_console())

    raise typer.Exit(guarded(_console(stderr=True), run))


def _mount_calendar(argv: list[str]) -> None:
    # The calendar libraries cost more to import than the rest of the CLI: they load for
    # `oscbot calendar ...` only; other commands list the group by its help line alone.
    if "calendar" in argv[:3]:
        from handlers.cli.calendar import calendar_app
    else:
        calendar_app = typer.Typer()
    app.add_typer(calendar_app, name="calendar", help="Read calendars for absences.")


def main() -> None:
    """Entry point of the `oscbot` console script."""
    _mount_calendar(sys.argv[1:])
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
