"""Interactive payload ids: stable for a resend, different for a new press or a changed form."""

from __future__ import annotations

from typing import Any

from handlers.slack.dedupe import action_id, submission_id


def press(stamp: str, user: str = "UMARIA", action: str = "lead_called#0") -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": user},
            "actions": [{"action_id": action, "action_ts": stamp, "value": "1"}]}


def test_a_press_is_known_by_user_action_and_stamp() -> None:
    assert action_id(press("1.2")) == action_id(press("1.2")) == "action:UMARIA:lead_called#0:1.2"
    assert len({action_id(press("1.2")), action_id(press("1.3")),
                action_id(press("1.2", user="USAM")),
                action_id(press("1.2", action="lead_reached#0"))}) == 4


def test_payloads_without_a_stamp_are_not_deduplicated() -> None:
    assert action_id({"type": "view_submission", "user": {"id": "U"}}) is None
    assert action_id({"type": "block_actions", "actions": []}) is None
    assert action_id({"type": "block_actions", "user": "U", "actions": ["x"]}) is None
    assert action_id({"type": "block_actions", "user": "U",
                      "actions": [{"action_ts": "1.2"}]}) == "action:::1.2"


def test_a_submission_is_known_by_view_version_and_content() -> None:
    body = {"user": {"id": "UMARIA"}}

    def view(notes: str, hash_: str = "h1") -> dict[str, Any]:
        return {"id": "V1", "hash": hash_, "state": {"values": {
            "notes": {"value": {"type": "plain_text_input", "value": notes}}}}}

    assert submission_id(body, view("Cabo")) == submission_id(body, view("Cabo"))
    assert submission_id(body, view("Cabo")) != submission_id(body, view("Lima"))
    assert submission_id(body, view("Cabo")) != submission_id(body, view("Cabo", "h2"))
    assert submission_id(body, view("Cabo")).startswith("view:UMARIA:V1:h1:")
