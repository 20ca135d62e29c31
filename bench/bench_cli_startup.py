"""Start-up of `oscbot --help`, `oscbot check` and `oscbot calendar scan`, next to floors.

Floors: the bare interpreter (`python -c pass`), the CLI framework alone
(`import typer`), what `check` validates with (`import typer, yaml, pydantic`),
pydantic-settings alone (for comparison: `check` does not import it) and the calendar
libraries alone (`import icalendar, recurring_ical_events`). Every command and floor
runs ROUNDS times, interleaved; the table gives median wall time, median CPU time
(user + sys, steadier on a busy machine) and the ratio to the interpreter. Then, per
command, `python -X importtime`'s heaviest top-level imports. Targets (issue: fast at
any size): `--help` under 0.15 s, `check` under 0.3 s.
Run: .venv/bin/python bench/bench_cli_startup.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 9
EXAMPLES = ROOT / "bot" / "config" / "examples"
CLI = "import sys; from handlers.cli.app import main; sys.argv[0] = 'oscbot'; main()"

CASES: dict[str, list[str]] = {
    "floor: python -c pass": ["-c", "pass"],
    "floor: import typer": ["-c", "import typer"],
    # What `check` cannot do without: the CLI framework, the YAML parser and pydantic,
    # which validates app.yaml. (`check` reads no settings, so pydantic-settings is not
    # among its imports; its cost is listed for comparison.)
    "floor: import typer, yaml, pydantic": ["-c", "import typer, yaml, pydantic; "
                                            "pydantic.BaseModel"],
    "floor: import pydantic_settings": ["-c", "import pydantic_settings"],
    "floor: import icalendar, recurring_ical_events":
        ["-c", "import icalendar, recurring_ical_events"],
    "oscbot --help": ["-c", CLI, "--help"],
    "oscbot check": ["-c", CLI, "check", "--config", str(EXAMPLES / "app.yaml")],
    "oscbot calendar scan": ["-c", CLI, "calendar", "scan", "--tz", "America/Chicago",
                             "--from", "2026-11-01", "--to", "2027-01-01",
                             str(EXAMPLES / "calendars" / "maria.ics")],
}


def run_once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heaviest_imports(args: list[str], count: int = 8) -> list[tuple[str, float]]:
    """The top-level imports with the largest cumulative time, from `-X importtime`."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    found = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            found.append((parts[2].strip(), int(parts[1]) / 1e6))
    return sorted(found, key=lambda item: -item[1])[:count]


def main() -> None:
    """Interleaved rounds, the table, then the import summaries."""
    walls: dict[str, list[float]] = {name: [] for name in CASES}
    cpus: dict[str, list[float]] = {name: [] for name in CASES}
    for args in CASES.values():
        run_once(args)  # warm the file cache
    for _ in range(ROUNDS):
        for name, args in CASES.items():
            wall, cpu = run_once(args)
            walls[name].append(wall)
            cpus[name].append(cpu)
    bare = statistics.median(walls["floor: python -c pass"])
    print(f"{'case':48} {'wall s':>7} {'cpu s':>7} {'× python':>9}")
    for name in CASES:
        wall = statistics.median(walls[name])
        print(f"{name:48} {wall:>7.3f} {statistics.median(cpus[name]):>7.3f} "
              f"{wall / bare:>9.1f}")
    print("targets: oscbot --help < 0.15 s, oscbot check < 0.3 s")
    for name, args in CASES.items():
        if name.startswith("oscbot"):
            print(f"\n{name}: heaviest top-level imports (python -X importtime, cumulative)")
            for module, seconds in heaviest_imports(args):
                print(f"  {seconds * 1000:8.1f} ms  {module}")


if __name__ == "__main__":
    main()
