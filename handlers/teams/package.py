"""`oscbot teams package`: the Teams app package (manifest v1.30 and two icons, zipped)."""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.errors import InvalidInput

MANIFEST_VERSION = "1.30"
SCHEMA_URL = ("https://developer.microsoft.com/en-us/json-schemas/teams/v1.30/"
              "MicrosoftTeams.schema.json")
ACCENT = (0x2E, 0x6D, 0xB4)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
RSC_PERMISSIONS = ("ChannelMessage.Read.Group",)
COMMANDS = (
    ("going on leave", "Plan an absence: opens the leave form (or give dates and kind)"),
    ("coverage", "Who is out and who covers them"),
    ("im back", "End your coverage now; your return list follows"),
    ("handoff drill", "Practice run of a handoff; switches nothing"),
    ("calendar", "Your lead calendar (managers: anyone's)"),
    ("help", "What oscbot can do"),
)


def manifest(*, bot_id: str, public_url: str, version: str = "1.0.0",
             team_name: str = "") -> dict[str, Any]:
    """The app manifest: one bot in team and personal scope with its command menu."""
    if not _GUID.match(bot_id):
        raise InvalidInput(f"TEAMS_CLIENT_ID must be the bot's app id (a GUID), not {bot_id!r}",
                           field="TEAMS_CLIENT_ID")
    parts = urlsplit(public_url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput("OSCBOT_PUBLIC_URL must be the https address oscbot is reached at",
                           field="OSCBOT_PUBLIC_URL")
    site = public_url.rstrip("/")
    full = ("Keeps an online sales program running while its Online Sales Counselor is away: "
            "routing switched to a trained backup, a handoff brief in the channel, lead cards "
            "and speed-to-lead alerts, and a return-to-office list.")
    if team_name:
        full += f" Set up for {team_name}."
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": bot_id,
        "developer": {"name": "oscbot", "websiteUrl": site,
                      "privacyUrl": f"{site}/privacy", "termsOfUseUrl": f"{site}/terms"},
        "name": {"short": "oscbot", "full": "oscbot: coverage for online sales"},
        "description": {"short": "Covers your online sales leads while an OSC is away.",
                        "full": full[:4000]},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{
            "botId": bot_id, "scopes": ["team", "personal"], "isNotificationOnly": False,
            "supportsFiles": False,
            # One command list per scope, as the schema asks.
            "commandLists": [{"scopes": [scope], "commands": [
                {"title": title, "description": description}
                for title, description in COMMANDS]} for scope in ("team", "personal")],
        }],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [parts.hostname],
        # Resource-specific consent, granted by whoever adds the app to the team: read this
        # team's channel messages through Microsoft Graph, so a post whose answer was lost
        # is found instead of sent twice. (Teams then also delivers channel messages that
        # do not @mention the bot; oscbot ignores those.)
        "webApplicationInfo": {"id": bot_id, "resource": f"api://{parts.hostname}/{bot_id}"},
        "authorization": {"permissions": {"resourceSpecific": [
            {"name": name, "type": "Application"} for name in RSC_PERMISSIONS]}},
    }


def _png(size: int, pixel: Any) -> bytes:
    """A PNG (RGBA) where `pixel(x, y)` gives each pixel's colour."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size))
                    for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def _ring(size: int, x: int, y: int) -> bool:
    centre = (size - 1) / 2
    distance: float = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
    return size * 0.22 <= distance <= size * 0.34


def icons() -> dict[str, bytes]:
    """The colour icon (192 px, white ring on the accent) and the outline (32 px, white)."""
    white, clear = (255, 255, 255, 255), (0, 0, 0, 0)
    return {
        "color.png": _png(192, lambda x, y: white if _ring(192, x, y) else (*ACCENT, 255)),
        "outline.png": _png(32, lambda x, y: white if _ring(32, x, y) else clear),
    }


def write_package(path: Path, *, bot_id: str, public_url: str, team_name: str = "") -> Path:
    """Write the zip Teams' "Upload an app" takes: manifest.json and the icons at its root."""
    content = manifest(bot_id=bot_id, public_url=public_url, team_name=team_name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(content, indent=2))
        for name, data in icons().items():
            archive.writestr(name, data)
    return path
