"""The bundled example team (Riverside Homes): app.yaml and its ICS calendars.

Shipped inside the package so `oscbot demo` and `oscbot init` work from any folder.
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
EXAMPLE_CONFIG = EXAMPLES / "app.yaml"
EXAMPLE_CALENDARS = EXAMPLES / "calendars"
