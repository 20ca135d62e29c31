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
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(first, dict) or not first.get("action_ts"):
        return None  # not what Slack sends: the listener refuses it
    return f"action:{_user(body)}:{first.get('action_id', '')}:{first['action_ts']}"


def submission_id(body: dict[str, Any], view: dict[str, Any]) -> str:
    """The id of a view submission: who, which view and version, and what was typed."""
    values = json.dumps(view.get("state", {}).get("values", {}), sort_keys=True)
    digest = hashlib.sha256(values.encode()).hexdigest()[:32]
    return f"view:{_user(body)}:{view.get('id', '')}:{view.get('hash', '')}:{digest}"


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id", "")) if isinstance(user, dict) else ""
