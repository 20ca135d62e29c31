"""`oscbot teams package`: the manifest validates against Microsoft's own v1.30 JSON schema,
taken from the official `@microsoft/app-manifest` npm package (Microsoft 365 Agents Toolkit)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from typer.testing import CliRunner

from handlers.cli.app import app
from handlers.teams.package import COMMANDS, manifest, write_package

SCHEMA_PACKAGE = "@microsoft/app-manifest@1.1.2"
SCHEMA_PATH = "package/build/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"
APP_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="session")
def schema(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The official manifest schema, fetched once with npm and cached between runs."""
    cache = getattr(request.config, "cache", None)
    folder = (Path(cache.mkdir("teams-manifest-schema")) if cache is not None
              else tmp_path_factory.mktemp("teams-manifest-schema"))
    cached = folder / "MicrosoftTeams.v1.30.schema.json"
    if not cached.exists():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI") == "true":
                pytest.fail("npm is needed in CI to fetch the Teams manifest schema")
            pytest.skip("npm not available to fetch the Teams manifest schema")
        packed = subprocess.run([npm, "pack", SCHEMA_PACKAGE, "--pack-destination",
                                 str(folder), "--silent"], capture_output=True, text=True,
                                timeout=180, check=True).stdout.strip().splitlines()[-1]
        with tarfile.open(folder / packed) as archive:
            source = archive.extractfile(SCHEMA_PATH)
            assert source is not None
            cached.write_bytes(source.read())
    loaded: dict[str, Any] = json.loads(cached.read_text())
    return loaded


def problems(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)]


def test_the_manifest_is_valid_for_schema_1_30(schema: dict[str, Any]) -> None:
    document = manifest(bot_id=APP_ID, public_url="https://oscbot.riverside.example",
                        team_name="Riverside Homes")
    assert schema["properties"]["manifestVersion"]["const"] == "1.30"
    assert problems(schema, document) == []
    [bot] = document["bots"]
    assert bot["botId"] == APP_ID
    assert [c["scopes"] for c in bot["commandLists"]] == [["team"], ["personal"]]
    for commands in bot["commandLists"]:
        assert [c["title"] for c in commands["commands"]] == [title for title, _ in COMMANDS]
    assert document["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"}]
    assert document["webApplicationInfo"]["id"] == APP_ID


def test_the_schema_is_strict_enough_to_catch_mistakes(schema: dict[str, Any]) -> None:
    document = manifest(bot_id=APP_ID, public_url="https://oscbot.riverside.example")
    document["bots"][0]["commandLists"][0]["commands"][0]["title"] = "x" * 200
    document["bots"][0]["scopes"] = ["channel"]
    document["accentColor"] = "blue"
    found = problems(schema, document)
    assert any("commands/0/title" in p for p in found)
    assert any("bots/0/scopes" in p for p in found)
    assert any(p.startswith("accentColor") for p in found)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_package_holds_the_manifest_and_both_icons(tmp_path: Path,
                                                       schema: dict[str, Any]) -> None:
    path = write_package(tmp_path / "app.zip", bot_id=APP_ID,
                         public_url="https://oscbot.riverside.example")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert problems(schema, json.loads(archive.read("manifest.json"))) == []
        assert _png_size(archive.read("color.png")) == (192, 192)
        assert _png_size(archive.read("outline.png")) == (32, 32)


def test_the_command_takes_the_bot_id_from_the_environment(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEAMS_CLIENT_ID", raising=False)
    monkeypatch.setenv("OSCBOT_PUBLIC_URL", "https://oscbot.riverside.example")
    missing = runner.invoke(app, ["teams", "package"])
    assert missing.exit_code == 2 and "TEAMS_CLIENT_ID" in missing.output
    monkeypatch.setenv("TEAMS_CLIENT_ID", APP_ID)
    done = runner.invoke(app, ["teams", "package", "--out", "oscbot.zip"])
    assert done.exit_code == 0, done.output
    with zipfile.ZipFile(tmp_path / "oscbot.zip") as archive:
        assert json.loads(archive.read("manifest.json"))["id"] == APP_ID
