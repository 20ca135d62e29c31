"""The one place tests sign lead-intake requests, so a change of scheme lands here only."""

from __future__ import annotations

from handlers.http.leads import sign


def lead_headers(body: bytes, secret: str, *, method: str = "POST",
                 path: str = "/leads") -> dict[str, str]:
    """Headers of a signed JSON request to the lead intake."""
    return {"Content-Type": "application/json", "X-OSCBot-Signature": sign(body, secret)}
