"""`oscbot init`: a commented app.yaml starter and the example calendars, written into a
folder so a first-time admin has a working team to edit and check."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.config.examples import EXAMPLE_CALENDARS, EXAMPLE_CONFIG
from bot.errors import InvalidInput

HEADER = """\
# Written by `oscbot init`: the example team (Riverside Homes) as a starting point.
# Replace the people, channel and communities with your own, then run `oscbot check`.
# `oscbot demo --config app.yaml` plays the example story on this file as long as the
# example people are still in it. Full reference: docs/configuration.md.
#
"""


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Write app.yaml and calendars/*.ics into `folder`; the paths written, in order.

    Existing files are left alone unless `force`: an admin's edited app.yaml is never
    overwritten by accident.
    """
    targets = [(EXAMPLE_CONFIG, folder / "app.yaml")] + [
        (source, folder / "calendars" / source.name)
        for source in sorted(EXAMPLE_CALENDARS.glob("*.ics"))]
    existing = [target for _, target in targets if target.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise InvalidInput(f"{names} already exist(s); nothing was written (use --force to "
                           "replace them)", field="folder")
    (folder / "calendars").mkdir(parents=True, exist_ok=True)
    for source, target in targets:
        if source == EXAMPLE_CONFIG:
            body = source.read_text(encoding="utf-8").split("\n", 1)[1]
            target.write_text(HEADER + body, encoding="utf-8")
        else:
            shutil.copyfile(source, target)
    return [target for _, target in targets]
