"""Log hygiene: no tokens, OAuth codes, secrets or query strings in any log line.

Libraries log what they see: uvicorn's access log writes full URLs (with the OAuth
`code` and `state` of an install), Bolt names the code it failed to exchange, an HTTP
client error can quote a token. Rather than trusting each library, every record is
scrubbed once, when it is created: the query string is cut from access-log paths and
anything shaped like a Slack token or a `code=`/`token=`/`secret=` value is replaced.
SQL parameters are hidden at the engine (`hide_parameters=True`, storage.engine).
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
_TOKEN = re.compile(r"\bx(?:ox[a-z]|app)-[0-9A-Za-z-]+")
_NAMED = re.compile(
    r"\b(code|token|access_token|refresh_token|client_secret|secret|password)"
    r"(['\"]?=|['\"]?\s*:\s*(?=['\"]?[A-Za-z0-9._-]{8,}))(['\"]?)[^\s&,'\")}]+",
    re.IGNORECASE)

_installed: list[bool] = []
_FORMATTER = logging.Formatter()


def scrub(text: str) -> str:
    """The text with tokens and named secrets replaced by a marker."""
    text = _TOKEN.sub(REDACTED, text)
    return _NAMED.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}", text)


def without_query(path: str) -> str:
    """A request target without its query string (which may carry codes or tokens)."""
    return path.split("?", 1)[0]


def install_log_scrubbing() -> None:
    """Scrub every log record from now on (idempotent; call once at start-up)."""
    if _installed:
        return
    _installed.append(True)
    make_record = logging.getLogRecordFactory()

    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) \
                and len(record.args) >= 3:
            # (client, method, path, http version, status): keep the route, drop the query.
            parts = list(record.args)
            parts[2] = without_query(str(parts[2]))
            record.args = tuple(parts)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record  # a malformed call: logging reports it itself
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatted now so the handler prints the scrubbed copy.
            record.exc_text = scrub(_FORMATTER.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(scrubbed)
