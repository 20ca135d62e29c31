"""Stable ids for Slack's interactive payloads, so a press or a submission delivered
twice (a retry, a proxy resending, two replicas) takes effect once.

Slack's event callbacks carry an `event_id`; interactive payloads do not, so the id is
built from what Slack sets once per interaction: a button press's `action_ts` with the
user and the action; a submission's view id and hash with a digest of what was typed
(the same form sent again after a correction is a new submission).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SOURCE = "slack-interaction"


def action_id(body: dict[str, Any]) -> str | None:
    """The id of a block action (button press, menu pick); None for anything else."""
    if body.get("type") != "block_actions":
        return None
    actions = body.get("actions") or []
    first = actions[0] if actions and isinstance(actions[0], dict) else {}
    stamp = first.get("action_ts")
    if not stamp:
        return None
    user = (body.get("user") or {}).get("id", "")
    return f"action:{user}:{first.get('action_id', '')}:{stamp}"


def submission_id(body: dict[str, Any], view: dict[str, Any]) -> str:
    """The id of a view submission: who, which view and version, and what was typed."""
    values = json.dumps(view.get("state", {}).get("values", {}), sort_keys=True)
    digest = hashlib.sha256(values.encode()).hexdigest()[:32]
    user = (body.get("user") or {}).get("id", "")
    return f"view:{user}:{view.get('id', '')}:{view.get('hash', '')}:{digest}"
