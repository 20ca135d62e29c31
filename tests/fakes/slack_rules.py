"""Slack's documented rules for message and view payloads, as the fake Web API applies them.

Each check returns Slack's error code and its json-pointer messages, the way Slack
answers (`{"ok": false, "error": "invalid_blocks", "errors": ["... [json-pointer:...]"]}`).
Limits from Slack's Block Kit reference: 50 blocks in a message, 100 in a view;
block_id (255) unique in a message or view; action_id (255) unique in its block;
section text 3,000, fields 10 x 2,000; header 150 plain_text; actions 25 elements;
context 10 elements; button text 75, value 2,000; option text 75, value 150, 100
options; input label 2,000; modal title, submit and close 24; private_metadata 3,000;
callback_id 255; message text 40,000.
"""

from __future__ import annotations

import json
import re
from typing import Any

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
MAX_MESSAGE_TEXT = 40_000
# What a response_url takes (Slack's "Handling user interaction": message responses).
RESPONSE_FIELDS = {"text", "blocks", "attachments", "response_type", "replace_original",
                   "delete_original", "thread_ts", "mrkdwn", "unfurl_links", "unfurl_media",
                   "metadata"}
MESSAGE_BLOCK_TYPES = {"section", "header", "actions", "context", "divider", "image"}
VIEW_BLOCK_TYPES = MESSAGE_BLOCK_TYPES | {"input"}


class Refused(Exception):
    """A payload Slack refuses: `code` is Slack's error, `errors` its details."""

    def __init__(self, code: str, errors: list[str]) -> None:
        super().__init__(code)
        self.code = code
        self.errors = errors


def parse(value: Any) -> Any:
    """Blocks and views arrive as JSON strings in form posts, as lists/dicts in JSON posts."""
    return json.loads(value) if isinstance(value, str) else value


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, problem: str, pointer: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, limit: int, *, plain_only: bool = False) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            self.fail("must provide a text object", pointer)
            return
        if plain_only and obj["type"] != "plain_text":
            self.fail("must be a plain_text object", f"{pointer}/type")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail("must be more than 0 characters", f"{pointer}/text")
        elif len(text) > limit:
            self.fail(f"must be less than {limit + 1} characters", f"{pointer}/text")

    def identifier(self, value: Any, pointer: str, seen: set[str]) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value or len(value) > 255:
            self.fail("must be 1 to 255 characters", pointer)
        elif value in seen:
            self.fail("must be unique", pointer)
        seen.add(str(value))

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict):
            self.fail("must be an element object", pointer)
            return
        self.identifier(element.get("action_id"), f"{pointer}/action_id", action_ids)
        kind = element.get("type")
        if kind == "button":
            self.text(element.get("text"), f"{pointer}/text", 75, plain_only=True)
            if len(str(element.get("value", ""))) > 2000:
                self.fail("must be less than 2001 characters", f"{pointer}/value")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail("must be primary or danger", f"{pointer}/style")
        elif kind in ("static_select", "radio_buttons", "checkboxes"):
            self.options(element, pointer)
        elif kind not in ("datepicker", "plain_text_input", "users_select",
                          "conversations_select", "timepicker"):
            self.fail(f"unsupported element type {kind!r}", f"{pointer}/type")

    def options(self, element: dict[str, Any], pointer: str) -> None:
        options = element.get("options") or []
        if not options or len(options) > 100:
            self.fail("must have 1 to 100 options", f"{pointer}/options")
        values = []
        for index, option in enumerate(options):
            at = f"{pointer}/options/{index}"
            self.text(option.get("text"), f"{at}/text", 75)
            value = option.get("value")
            if not isinstance(value, str) or not value or len(value) > 150:
                self.fail("must be 1 to 150 characters", f"{at}/value")
            values.append(option)
        initial = element.get("initial_option")
        if initial is not None and initial not in values:
            self.fail("must match one of the options", f"{pointer}/initial_option")

    def block(self, block: Any, pointer: str, kinds: set[str], block_ids: set[str]) -> None:
        if not isinstance(block, dict) or block.get("type") not in kinds:
            self.fail("must be a known block type here", f"{pointer}/type")
            return
        self.identifier(block.get("block_id"), f"{pointer}/block_id", block_ids)
        kind = block["type"]
        action_ids: set[str] = set()
        if kind == "section":
            fields = block.get("fields")
            if "text" in block or not fields:
                self.text(block.get("text"), f"{pointer}/text", 3000)
            if fields is not None:
                if not 1 <= len(fields) <= 10:
                    self.fail("must have 1 to 10 fields", f"{pointer}/fields")
                for index, field in enumerate(fields):
                    self.text(field, f"{pointer}/fields/{index}", 2000)
            if block.get("accessory") is not None:
                self.element(block["accessory"], f"{pointer}/accessory", action_ids)
        elif kind == "header":
            self.text(block.get("text"), f"{pointer}/text", 150, plain_only=True)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                self.fail("must have 1 to 25 elements", f"{pointer}/elements")
            for index, element in enumerate(elements):
                self.element(element, f"{pointer}/elements/{index}", action_ids)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                self.fail("must have 1 to 10 elements", f"{pointer}/elements")
            for index, element in enumerate(elements):
                self.text(element, f"{pointer}/elements/{index}", 3000)
        elif kind == "input":
            self.text(block.get("label"), f"{pointer}/label", 2000, plain_only=True)
            self.element(block.get("element"), f"{pointer}/element", action_ids)

    def blocks(self, blocks: Any, pointer: str, limit: int, kinds: set[str]) -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", pointer)
            return
        if len(blocks) > limit:
            self.fail(f"must be less than {limit + 1} items", pointer)
        block_ids: set[str] = set()
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}", kinds, block_ids)


def check_message(args: dict[str, Any]) -> None:
    """chat.postMessage / chat.update / chat.postEphemeral arguments, as Slack checks them."""
    channel = str(args.get("channel", ""))
    if not CHANNEL_ID.match(channel):
        # Names are refused here: ids are what every Web API method accepts.
        raise Refused("channel_not_found", [f"{channel!r} is not a channel id"])
    _check_content(args)


def check_response(args: Any) -> None:
    """A message posted to a response_url (JSON, the fields Slack documents for it), as
    Slack checks it; the text and blocks follow chat.postMessage's rules."""
    if not isinstance(args, dict):
        raise Refused("invalid_payload", ["the body is not a JSON object"])
    unknown = sorted(set(args) - RESPONSE_FIELDS)
    if unknown:
        raise Refused("invalid_payload", [f"unknown fields {unknown}"])
    if args.get("response_type", "ephemeral") not in ("ephemeral", "in_channel"):
        raise Refused("invalid_payload", ["response_type is ephemeral or in_channel"])
    for flag in ("replace_original", "delete_original"):
        if not isinstance(args.get(flag, False), bool):
            raise Refused("invalid_payload", [f"{flag} is a boolean"])
    _check_content(args)


def _check_content(args: dict[str, Any]) -> None:
    text = args.get("text")
    blocks = parse(args.get("blocks"))
    if not isinstance(text, str) or not text.strip():
        # Slack requires top-level text as the notification and screen-reader fallback.
        raise Refused("no_text", ["text is required as the fallback for blocks"])
    if len(text) > MAX_MESSAGE_TEXT:
        raise Refused("msg_too_long", [])
    if blocks is None:
        return
    checker = _Checker()
    checker.blocks(blocks, "/blocks", MESSAGE_BLOCKS, MESSAGE_BLOCK_TYPES)
    if checker.errors:
        raise Refused("invalid_blocks", checker.errors)


def check_view(view: Any) -> None:
    """A modal or App Home view for views.open / views.publish / views.update / views.push."""
    view = parse(view)
    checker = _Checker()
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise Refused("invalid_arguments", ["view must be a modal or home view"])
    if view["type"] == "modal":
        checker.text(view.get("title"), "/view/title", 24, plain_only=True)
        for part in ("submit", "close"):
            if part in view:
                checker.text(view[part], f"/view/{part}", 24, plain_only=True)
        if any(b.get("type") == "input" for b in view.get("blocks") or ()) and (
                "submit" not in view):
            checker.fail("submit is required with input blocks", "/view/submit")
    if len(str(view.get("private_metadata", ""))) > 3000:
        checker.fail("must be less than 3001 characters", "/view/private_metadata")
    if len(str(view.get("callback_id", ""))) > 255:
        checker.fail("must be less than 256 characters", "/view/callback_id")
    checker.blocks(view.get("blocks"), "/view/blocks", VIEW_BLOCKS, VIEW_BLOCK_TYPES)
    if checker.errors:
        raise Refused("invalid_arguments", checker.errors)
