"""The exception hierarchy of oscbot.

Adapters translate vendor exceptions into these; handlers turn them into words
for people in one place.
"""

from __future__ import annotations


class OscbotError(Exception):
    """Base class of every error oscbot raises on purpose."""


class ConfigError(OscbotError):
    """The team configuration is invalid; `problems` lists each one."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigProblem:
    """One problem in a configuration file, located by file and line."""

    def __init__(self, *, file: str, line: int | None, field: str, message: str,
                 severity: str = "error") -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        self.severity = severity

    @property
    def is_error(self) -> bool:
        """True for an error; False for a warning that does not stop oscbot."""
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        label = "" if self.is_error else "warning: "
        return f"{where}: {label}{self.field}: {self.message}"

    def __repr__(self) -> str:
        return f"ConfigProblem({self!s})"


class InvalidInput(OscbotError):
    """Input from a person or a webhook is not acceptable; says which field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class NotFound(OscbotError):
    """A person, lead, coverage or other record does not exist."""


class NotAllowed(OscbotError):
    """The acting person may not do this (not responsible and not a manager)."""


class CalendarError(OscbotError):
    """A calendar could not be fetched or parsed; coverage must not change."""


class RoutingError(OscbotError):
    """A routing switch failed. `transient` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool = False, manual_step: str = "",
                 retry_after: float = 0.0, not_found: bool = False) -> None:
        self.transient = transient
        self.manual_step = manual_step
        self.retry_after = retry_after
        self.not_found = not_found
        super().__init__(message)


class ManualStepRequired(RoutingError):
    """The channel has no automatic switch; a person must do `manual_step` and confirm."""


class StaleWrite(OscbotError):
    """A compare-and-set lost: the row changed since it was read (another replica won)."""


def retry_after_seconds(header: str | None) -> float | None:
    """An HTTP Retry-After header as seconds to wait ("0": at once), for a ChatError;
    None when it names no wait in seconds (absent, or not a number)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


class ChatError(OscbotError):
    """A chat platform refused or failed a request.

    `maybe_sent` is set when the platform may have acted on the request although no
    answer came back (a timeout, a dropped connection, a 5xx): the message may be there.
    """

    def __init__(self, message: str, *, transient: bool = False,
                 retry_after: float | None = None, code: str = "", maybe_sent: bool = False,
                 scope: str = "") -> None:
        self.transient = transient
        # Seconds the platform asked to wait (0: at once); None when it named no wait,
        # and the caller backs off by its own schedule.
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent
        # What a rate limit covers beyond this conversation, for every replica to wait
        # out: "" (this conversation only), "direct" (new DMs: finding people, opening
        # DMs), "lookup" (searching history for a message that may have arrived), "all".
        self.scope = scope
        # The platform's own error code (Slack's `invalid_blocks`...), for callers that act on it.
        self.code = code
        super().__init__(message)
