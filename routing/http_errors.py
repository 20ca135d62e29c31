"""Vendor HTTP answers in our words: which failures a retry may fix, and how long to wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx

from bot.errors import RoutingError, retry_after_seconds

T = TypeVar("T")


def error_for(status: int, *, vendor: str, what: str, manual_step: str,
              retry_after: str = "") -> RoutingError:
    """The RoutingError for a vendor's HTTP status."""
    if status == 429:
        return RoutingError(f"{vendor} rate limit while {what}", transient=True,
                            retry_after=retry_after_seconds(retry_after) or 0.0,
                            manual_step=manual_step)
    if status >= 500:
        return RoutingError(f"{vendor} answered HTTP {status} while {what}", transient=True,
                            manual_step=manual_step)
    if status in (401, 403):
        return RoutingError(f"{vendor} refused the credentials while {what} (HTTP {status}); "
                            f"check the API key and its permissions", manual_step=manual_step)
    if status == 404:
        return RoutingError(f"{vendor} has no such record while {what} (HTTP 404); check the "
                            "ids in app.yaml", manual_step=manual_step, not_found=True)
    return RoutingError(f"{vendor} refused {what} (HTTP {status})", manual_step=manual_step)


def check(response: httpx.Response, *, vendor: str, what: str, manual_step: str) -> None:
    """Raise RoutingError for any non-2xx answer, saying what to fix."""
    if response.status_code >= 300:
        raise error_for(response.status_code, vendor=vendor, what=what,
                        manual_step=manual_step,
                        retry_after=response.headers.get("Retry-After", ""))


def none_if_not_found(call: Callable[[], T]) -> T | None:
    """The call's answer, or None when the vendor says the record does not exist."""
    try:
        return call()
    except RoutingError as exc:
        if exc.not_found:
            return None
        raise


def network(exc: Exception, *, vendor: str, what: str, manual_step: str) -> RoutingError:
    """A network failure: transient."""
    return RoutingError(f"{vendor} unreachable while {what} ({type(exc).__name__})",
                        transient=True, manual_step=manual_step)
