"""Loading `app.yaml`: YAML with line numbers, `${ENV}` interpolation, every problem at once."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config.model import AppConfig, Role
from bot.errors import ConfigError, ConfigProblem

Loc = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Slack channel names: lowercase, no spaces or periods, at most 80 characters.
CHANNEL_NAME = re.compile(r"^#?[a-z0-9_][a-z0-9_\-]{0,79}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{8,}$")
KNOWN_ADAPTERS = {
    "leads": {"builtin", "manual", "hubspot", "salesforce", "lasso"},
    "email": {"manual", "google_group", "gmail_filter", "m365_group", "outlook_rule"},
    "calls": {"manual", "builtin", "callrail", "twilio"},
}


def field_path(loc: Loc) -> str:
    """`people[2].backups[0]` from a location tuple."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class _Located:
    """Line numbers of every mapping key and sequence item, by location."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[Loc, int] = {}
        # (location, line, first line) of every key written twice in one mapping: YAML
        # would silently keep the last one.
        self.duplicates: list[tuple[Loc, int, int]] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, loc: Loc) -> None:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                child = (*loc, str(key.value))
                line = key.start_mark.line + 1
                if str(key.value) in first:
                    self.duplicates.append((child, line, first[str(key.value)]))
                    self._walk(value, child)
                    continue
                first[str(key.value)] = line
                self.lines[child] = line
                self._walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*loc, index))

    def line(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest located parent."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


class ConfigDocument:
    """A parsed (not yet validated) config file: raw data plus where each part sits."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.name = path.name
        try:
            self.located = _Located(yaml.compose(text, Loader=yaml.SafeLoader))
            self.data: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError([ConfigProblem(file=self.name, line=line, field="(yaml)",
                                             message=f"not valid YAML: {problem}")]) from None

    def problem(self, loc: Loc, message: str, *, severity: str = "error") -> ConfigProblem:
        """A problem located at `loc`."""
        return ConfigProblem(file=self.name, line=self.located.line(loc),
                             field=field_path(loc), message=message, severity=severity)


def _interpolate(value: Any, loc: Loc, env: Mapping[str, str], doc: ConfigDocument,
                 problems: list[ConfigProblem]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, str(k)), env, doc, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), env, doc, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(doc.problem(loc, f"environment variable {name} is not set"))
        return ""

    return _ENV.sub(substitute, value)


def _validation_problems(exc: ValidationError, doc: ConfigDocument) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors():
        loc: Loc = tuple(p for p in error["loc"] if isinstance(p, (str, int)))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling; see docs/configuration.md)"
        elif error["type"] == "missing":
            message = "is required"
        elif error["type"] == "enum":
            message = f"{error.get('input')!r} is not allowed; {message}"
        problems.append(doc.problem(loc, message))
    return problems


def cross_check(config: AppConfig, doc: ConfigDocument) -> list[ConfigProblem]:
    """Problems pydantic cannot see alone: references between people, policies, files."""
    problems: list[ConfigProblem] = []
    seen: dict[str, int] = {}
    for index, person in enumerate(config.people):
        if person.email in seen:
            problems.append(doc.problem(("people", index, "email"),
                                        f"{person.email} is listed twice (first at "
                                        f"people[{seen[person.email]}])"))
        seen.setdefault(person.email, index)
    for index, person in enumerate(config.people):
        base: Loc = ("people", index)
        if person.role is Role.OSC:
            problems.extend(_check_osc(config, doc, index))
        elif person.backups:
            problems.append(doc.problem((*base, "backups"),
                                        f"only OSCs have backups; {person.name} is a "
                                        f"{person.role.value}", severity="warning"))
        if person.calendar and person.calendar.ics and "://" not in person.calendar.ics:
            path = Path(person.calendar.ics)
            if not path.is_absolute():
                path = doc.path.parent / path
            if not path.exists():
                problems.append(doc.problem((*base, "calendar", "ics"),
                                            f"calendar file {person.calendar.ics} not found"))
    # On Teams the channel is where the app was added (or a 19:… id); any label will do.
    if config.team.chat == "slack" and not (CHANNEL_NAME.match(config.team.channel)
                                            or CHANNEL_ID.match(config.team.channel)):
        problems.append(doc.problem(("team", "channel"), (
            f"{config.team.channel!r} is not a Slack channel: write its name like "
            "\"#online-sales\" (lowercase letters, numbers, - and _, no spaces, at most 80) "
            "or its id like C0123ABCD")))
    for index, manager in enumerate(config.team.managers):
        if config.find_person(manager) is None:
            problems.append(doc.problem(("team", "managers", index),
                                        f"unknown person {manager!r} (add them under people)"))
    if not config.team.managers and not any(p.role is Role.MANAGER for p in config.people):
        problems.append(doc.problem(("team",), "no managers: escalations and no-backup "
                                               "alerts would reach nobody"))
    problems.extend(_check_policies(config, doc))
    for channel, allowed in KNOWN_ADAPTERS.items():
        adapter = getattr(config.routing, channel).adapter
        if adapter not in allowed:
            problems.append(doc.problem(("routing", channel, "adapter"),
                                        f"unknown adapter {adapter!r} for {channel}; use one "
                                        f"of {', '.join(sorted(allowed))}"))
    return problems


def _check_osc(config: AppConfig, doc: ConfigDocument, index: int) -> list[ConfigProblem]:
    osc = config.people[index]
    base: Loc = ("people", index)
    problems: list[ConfigProblem] = []
    if not osc.backups:
        problems.append(doc.problem(base, f"OSC {osc.name} has no backups; list at least one "
                                          "trained colleague under backups"))
    trained = 0
    for position, email in enumerate(osc.backups):
        loc = (*base, "backups", position)
        backup = config.find_person(email)
        if email == osc.email:
            problems.append(doc.problem(loc, f"{osc.name} cannot be their own backup"))
        elif backup is None:
            problems.append(doc.problem(loc, f"unknown person {email!r} (no one with that "
                                             "email on the team)"))
        elif backup.trained:
            trained += 1
    if osc.backups and trained == 0:
        problems.append(doc.problem((*base, "backups"),
                                    f"no trained backup for {osc.name}: mark someone "
                                    "trained: true once they are"))
    if osc.calendar is None:
        problems.append(doc.problem(base, f"{osc.name} has no calendar; absences must be "
                                          "declared with /going-on-leave", severity="warning"))
    return problems


def _check_policies(config: AppConfig, doc: ConfigDocument) -> list[ConfigProblem]:
    policies = config.policies
    problems = []
    if policies.escalate_after <= policies.speed_to_lead:
        problems.append(doc.problem(("policies", "escalate_after"),
                                    "must be longer than speed_to_lead"))
    steps = list(policies.follow_up)
    if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
        problems.append(doc.problem(("policies", "follow_up"),
                                    "steps must grow, like [24h, 3d, 7d]"))
    return problems


def read_document(path: Path) -> ConfigDocument:
    """Read and parse a config file, or raise ConfigError saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(file=str(path), line=None, field="(file)",
                                         message="no such file; set OSCBOT_CONFIG, pass "
                                                 "--config, or run `oscbot init` to write "
                                                 "a starter")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(file=str(path), line=None, field="(file)",
                                         message=f"cannot read: {exc}")]) from None
    return ConfigDocument(path, text)


def validate(doc: ConfigDocument, *, env: Mapping[str, str]
             ) -> tuple[AppConfig | None, list[ConfigProblem]]:
    """The config and every problem (errors and warnings) found in a parsed document."""
    if not isinstance(doc.data, dict):
        return None, [doc.problem((), "the file must be a mapping with team: and people:")]
    problems: list[ConfigProblem] = [
        ConfigProblem(file=doc.name, line=line, field=field_path(loc),
                      message=f"written twice (first on line {first}); YAML would keep only "
                              "this one, so remove one of them")
        for loc, line, first in doc.located.duplicates]
    data = _interpolate(doc.data, (), env, doc, problems)
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        return None, problems + _validation_problems(exc, doc)
    return config, problems + cross_check(config, doc)


def load_config(path: Path, *, env: Mapping[str, str]) -> AppConfig:
    """Load a valid config, or raise ConfigError listing every error."""
    doc = read_document(path)
    config, problems = validate(doc, env=env)
    errors = [p for p in problems if p.is_error]
    if errors or config is None:
        raise ConfigError(errors)
    return config
