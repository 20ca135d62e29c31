"""The lead webhook signature: `X-OSCBot-Signature: t=<unix seconds>,v1=<hex>`.

`v1 = hex(HMAC-SHA256(secret, f"{t}.{METHOD}.{path}.".encode() + body))`, path without
its query string. Signing the method, the path and a timestamp with the body means a
captured request cannot be replayed onto another lead's URL, nor later than
`TOLERANCE` after it was made. Senders (CRMs, form tools, our tests and benchmarks)
build the header with `signature_header`; the intake checks it with `verify`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_HEADER = "X-OSCBot-Signature"
TOLERANCE_SECONDS = 300


def _digest(secret: str, *, t: int, method: str, path: str, body: bytes) -> str:
    prefix = f"{t}.{method.upper()}.{path}.".encode()
    return hmac.new(secret.encode(), prefix + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, *, method: str, path: str, body: bytes, t: int) -> str:
    """The `X-OSCBot-Signature` value for a request made at unix time `t`."""
    return f"t={t},v1={_digest(secret, t=t, method=method, path=path.split('?', 1)[0], body=body)}"


def signed_headers(secret: str, *, path: str, body: bytes, t: int,
                   method: str = "POST") -> dict[str, str]:
    """Headers for a signed JSON request to the intake (what a sender attaches)."""
    return {"Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret, method=method, path=path, body=body, t=t)}


def verify(header: str | None, *, secret: str, method: str, path: str, body: bytes,
           now: datetime) -> str | None:
    """None when the header signs this request within the tolerance; otherwise why not."""
    if not header:
        return f"missing {SIGNATURE_HEADER} (expected t=<unix seconds>,v1=<hex>)"
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    stamps = parts.get("t", [])
    if len(stamps) != 1 or not stamps[0].isascii() or not stamps[0].isdigit() \
            or len(stamps[0]) > 12:
        return f"{SIGNATURE_HEADER} needs t=<unix seconds>,v1=<hex>"
    t = int(stamps[0])
    skew = abs(now.timestamp() - t)
    if skew > TOLERANCE_SECONDS:
        return (f"{SIGNATURE_HEADER} timestamp t={t} is {int(skew)} s away from the server's "
                f"clock; at most {TOLERANCE_SECONDS} s is accepted (replayed request or "
                "sender clock wrong)")
    expected = _digest(secret, t=t, method=method, path=path, body=body)
    # Several v1 values are allowed so a sender can sign with an old and a new secret
    # while the secret is being rotated.
    if not any(hmac.compare_digest(given.encode(), expected.encode())
               for given in parts.get("v1", [])):
        return f"wrong {SIGNATURE_HEADER}: v1 does not sign t.METHOD.path.body with our secret"
    return None
