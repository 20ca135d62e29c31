"""`oscbot run` as a real process, as an operator starts it, for the tests that need one."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

# The `oscbot` command, run as a child process from this checkout.
OSCBOT = (sys.executable, "-c", "from handlers.cli.app import main; main()")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(base: str, *, seconds: float = 60) -> None:
    """Wait for a starting `oscbot run` to answer /healthz."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("oscbot run did not come up")


@dataclass
class RunningOscbot:
    """A started `oscbot run`: its base URL, and what it printed once it has stopped."""

    base: str
    process: subprocess.Popen[bytes]
    output: str = ""


@contextmanager
def oscbot_run(env: Mapping[str, str], cwd: Path, *, sink: IO[bytes] | None = None,
               stop_seconds: float = 20) -> Iterator[RunningOscbot]:
    """Start `oscbot run` with `env` (which names the PORT) and yield it once healthy;
    stop it with SIGTERM afterwards. Output goes to `sink`, or is kept in `output`.

    Output is written to a file, never a pipe: a pipe nobody reads fills up (64 KiB) and
    then blocks every thread of the server that logs.
    """
    with contextlib.ExitStack() as stack:
        log = sink
        if log is None:
            log = stack.enter_context((cwd / f"oscbot-run-{env['PORT']}.log").open("w+b"))
        process = subprocess.Popen([*OSCBOT,
                                    "run"], env=dict(env), cwd=cwd, stdout=log,
                                   stderr=subprocess.STDOUT)
        running = RunningOscbot(f"http://127.0.0.1:{env['PORT']}", process)
        try:
            wait_until_healthy(running.base)
            yield running
        finally:
            process.terminate()
            process.wait(stop_seconds)
            if sink is None:
                log.seek(0)
                running.output = log.read().decode(errors="replace")
