"""Hostile calendar feeds: each bounded in time and memory, and none slows the others' sync.

Part 1: each adversarial shape from the real-world feed review is read through
the real `IcsSource` in a fresh process (so its peak memory is its own), beside
the floor: the same process reading a small well-formed calendar.
Targets (issue: calendar truth on real-world feeds): each under 2 s and 200 MB.

Part 2: a sync pass over 50 changing calendars served over HTTP from another
process, with and without one hostile feed among them (a 50 MB body with no
Content-Length), interleaved; target: with / without at most 1.2x.
Run: .venv/bin/python bench/bench_calendar_hostile.py
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
TAIL = "END:VCALENDAR\r\n"
ROUNDS = 5
CALENDARS = 50


def vevent(uid: str, summary: str, lines: str) -> str:
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:{summary}\r\n"
            f"{lines}END:VEVENT\r\n")


VACATION = vevent("real", "Vacation", "DTSTART;VALUE=DATE:20260803\r\n"
                                      "DTEND;VALUE=DATE:20260808\r\n")


def series(freq: str, extra: str = "") -> str:
    rule = f"DTSTART:20260101T000000Z\r\nDTEND:20260101T000001Z\r\nRRULE:FREQ={freq}{extra}\r\n"
    return HEAD + vevent("hostile", "Out of office", rule) + VACATION + TAIL


def meetings(count: int, marker: str = "") -> str:
    body = "".join(vevent(f"m{n}{marker}", "Lot walk", f"DTSTART:2026{(n % 12) + 1:02d}"
                          f"{(n % 27) + 1:02d}T150000Z\r\nDTEND:2026{(n % 12) + 1:02d}"
                          f"{(n % 27) + 1:02d}T160000Z\r\n") for n in range(count))
    return HEAD + body + VACATION + TAIL


def million_exdates() -> str:
    dates = ",".join(f"2026{m:02d}{d:02d}T000000Z" for m in range(1, 13) for d in range(1, 29))
    line = "EXDATE:" + ",".join([dates] * (1_000_000 // 336 + 1)) + "\r\n"
    return HEAD + vevent("exdates", "Vacation", "DTSTART:20260101T000000Z\r\n"
                         "DTEND:20260101T080000Z\r\nRRULE:FREQ=DAILY\r\n" + line) + VACATION + TAIL


SHAPES: dict[str, tuple[str, int]] = {
    # name: (calendar text, calendar_max_bytes; 0 keeps the default)
    "floor: small well-formed calendar": (meetings(20), 0),
    "FREQ=SECONDLY, no end": (series("SECONDLY"), 0),
    "FREQ=MINUTELY, no end": (series("MINUTELY"), 0),
    "FREQ=SECONDLY;COUNT=10000000": (series("SECONDLY", ";COUNT=10000000"), 0),
    "FREQ=DAILY;INTERVAL=0": (series("DAILY", ";INTERVAL=0"), 0),
    "50 MB feed": (meetings(50 * 1024 * 1024 // 150), 0),
    "1M EXDATEs (default size limit)": (million_exdates(), 0),
    "1M EXDATEs (limit raised to 40 MB)": (million_exdates(), 40_000_000),
}

CHILD = """
import json, sys, time
from datetime import datetime, UTC
sys.path.insert(0, sys.argv[3])
from bot.config.model import Policies
from bot.errors import CalendarError
from calendars.ics import IcsSource
limit = int(sys.argv[2])
policies = Policies(calendar_max_bytes=limit) if limit else Policies()
source = IcsSource(sys.argv[1], time_zone="America/Chicago", policies=policies)
began = time.perf_counter()
try:
    read = source.read(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2027, 1, 1, tzinfo=UTC),
                       cursor={})
    outcome = f"{len(read.absences)} absences, {len(read.skipped)} skipped"
except CalendarError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[1][:60]
elapsed = time.perf_counter() - began
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": elapsed, "peak_mb": int(hwm.split()[1]) / 1024, "outcome": outcome}))
"""


def part_one() -> None:
    """Each shape in its own process; print time, peak memory, outcome."""
    print("part 1: each hostile shape read in a fresh process (read time; process peak RSS)")
    with tempfile.TemporaryDirectory() as folder:
        for name, (text, limit) in SHAPES.items():
            path = Path(folder) / "feed.ics"
            path.write_text(text)
            result = subprocess.run([sys.executable, "-c", CHILD, str(path), str(limit),
                                     str(ROOT)], capture_output=True, text=True, check=True)
            row = json.loads(result.stdout)
            verdict = "ok" if row["seconds"] < 2 and row["peak_mb"] < 200 else "OVER"
            print(f"  {name:38} {row['seconds']:6.3f} s {row['peak_mb']:5.0f} MB  {verdict:4} "
                  f"{row['outcome']}")


class Feeds(BaseHTTPRequestHandler):
    """`/cal-N.ics`: a calendar that changes on every request; `/hostile.ics`: 50 MB, no length."""

    served = itertools.count()

    def do_GET(self) -> None:
        if self.path == "/hostile.ics":
            self.send_response(200)
            self.end_headers()
            chunk = meetings(2000).encode()
            try:
                for _ in range(50 * 1024 * 1024 // len(chunk)):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        body = meetings(60, marker=f"-{next(Feeds.served)}").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(conn: Any, stop: Any) -> None:
    """The feeds, in their own process as a remote host would be."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Feeds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    stop.wait()
    server.shutdown()


def part_two() -> None:
    """Interleaved sync passes over 50 calendars, with and without one hostile feed."""
    from bot.config.model import AppConfig
    from bot.fakes.chat import RecordingChat
    from bot.fakes.clock import FixedClock
    from bot.fakes.repositories import in_memory_repositories
    from bot.ports.calendars import CalendarSource
    from calendars.ics import IcsSource
    from handlers.wiring import build_context

    parent, child = multiprocessing.Pipe()
    stop = multiprocessing.Event()
    remote = multiprocessing.Process(target=serve, args=(child, stop), daemon=True)
    remote.start()
    port = parent.recv()
    people = [{"email": "backup@b.example", "name": "Backup", "role": "backup",
               "trained": True, "shadowed": True}]
    people += [{"email": f"osc{n}@b.example", "name": f"OSC {n}", "role": "osc",
                "backups": ["backup@b.example"]} for n in range(CALENDARS)]
    config = AppConfig.model_validate({"team": {"name": "Bench", "channel": "#s",
                                                "managers": []}, "people": people})

    def context(hostile: bool) -> Any:
        sources: dict[str, CalendarSource] = {
            osc.email: IcsSource(f"http://127.0.0.1:{port}/"
                                 f"{'hostile' if hostile and n == 0 else f'cal-{n}'}.ics",
                                 time_zone="America/Chicago", policies=config.policies)
            for n, osc in enumerate(config.oscs)}
        ctx = build_context(config=config, repos=in_memory_repositories(),
                            clock=FixedClock(datetime(2026, 3, 2, 15, tzinfo=UTC)),
                            chat=RecordingChat(), sources=sources)
        ctx.calendars.sync_all()
        return ctx

    calm, stormy = context(False), context(True)
    without, with_hostile = [], []
    for _ in range(ROUNDS):
        for ctx, times in ((calm, without), (stormy, with_hostile)):
            began = time.perf_counter()
            report = ctx.calendars.sync_all()
            times.append(time.perf_counter() - began)
    stop.set()
    remote.join(5)
    plain, hostile = statistics.median(without), statistics.median(with_hostile)
    print(f"part 2: sync pass over {CALENDARS} changing calendars, median of {ROUNDS} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"  without a hostile feed: {plain:.3f} s; with one (50 MB, no length): "
          f"{hostile:.3f} s; ratio {hostile / plain:.2f}x (target <= 1.2x); last pass with it: "
          f"read {report.read}, failed {report.failed}")


if __name__ == "__main__":
    part_one()
    part_two()
