"""`oscbot run` as a real process, as an operator starts it, for the tests that need one."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn

# The `oscbot` command, run as a child process from this checkout.
OSCBOT = (sys.executable, "-c", "from handlers.cli.app import main; main()")
# How long a starting process may take to say it is ready. Waiting ends as soon as it is,
# so a quick start costs nothing; the margin is for a loaded machine (a 2-core CI runner
# with other test workers busy), where one start has taken well over a minute.
READY_SECONDS = 120.0

# Ports for the servers tests start come from below Linux's ephemeral range (32768 and up),
# so no outgoing connection takes one between the probe and the server's bind, and from a
# band of their own per xdist worker, so two workers never probe the same port.
PORT_BAND, BANDS, LOWEST_PORT = 500, 24, 20_000
_port_offsets = itertools.count(random.randrange(PORT_BAND))


def free_port() -> int:
    """A loopback port nobody listens on right now, from this test worker's band."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = LOWEST_PORT + (int(worker) if worker.isdigit() else 0) % BANDS * PORT_BAND
    for _ in range(PORT_BAND):
        port = low + next(_port_offsets) % PORT_BAND
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError(f"no free loopback port in {low}-{low + PORT_BAND - 1}")


def log_tail(path: Path | None, *, lines: int = 40) -> str:
    """The last lines of a process's log, or a note that there is none."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"


def wait_until_ready(name: str, base: str, process: subprocess.Popen[bytes], *,
                     log: Path | None, seconds: float = READY_SECONDS) -> None:
    """Wait until the process at `base` answers `GET /readyz` with 200 (database reachable,
    migrations current, scheduler running). Fails with what went wrong: how long it waited,
    its exit code if it died, its last answer, and the tail of its log."""
    began = time.monotonic()
    last = "no answer yet"
    while True:
        try:
            answer = httpx.get(f"{base}/readyz", timeout=2)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code} {answer.text[:300]}"
        waited = time.monotonic() - began
        code = process.poll()
        if code is not None:
            raise AssertionError(
                f"{name} exited with code {code} after {waited:.1f} s, before /readyz "
                f"answered 200 (last: {last}); its log ends:\n{log_tail(log)}")
        if waited > seconds:
            raise AssertionError(
                f"{name} (pid {process.pid}) was not ready after {waited:.1f} s: /readyz "
                f"never answered 200 (last: {last}); its log ends:\n{log_tail(log)}")
        time.sleep(0.1)


@dataclass
class RunningOscbot:
    """A started `oscbot run`: its base URL, and what it printed once it has stopped."""

    base: str
    process: subprocess.Popen[bytes]
    output: str = ""


@contextmanager
def oscbot_run(env: Mapping[str, str], cwd: Path, *, sink: IO[bytes] | None = None,
               stop_seconds: float = 20) -> Iterator[RunningOscbot]:
    """Start `oscbot run` with `env` (which names the PORT) and yield it once ready;
    stop it with SIGTERM afterwards. Output goes to `sink`, or is kept in `output`.

    Output is written to a file, never a pipe: a pipe nobody reads fills up (64 KiB) and
    then blocks every thread of the server that logs.
    """
    with contextlib.ExitStack() as stack:
        path: Path | None = None
        if sink is None:
            path = cwd / f"oscbot-run-{env['PORT']}.log"
            log: IO[bytes] = stack.enter_context(path.open("w+b"))
        else:
            log = sink
            name = getattr(sink, "name", None)
            path = Path(name) if isinstance(name, str) else None
        process = subprocess.Popen([*OSCBOT,
                                    "run"], env=dict(env), cwd=cwd, stdout=log,
                                   stderr=subprocess.STDOUT)
        running = RunningOscbot(f"http://127.0.0.1:{env['PORT']}", process)
        try:
            wait_until_ready(f"oscbot run on port {env['PORT']}", running.base, process,
                             log=path)
            yield running
        finally:
            process.terminate()
            process.wait(stop_seconds)
            if sink is None:
                log.seek(0)
                running.output = log.read().decode(errors="replace")


class ServedApp:
    """An ASGI app served by uvicorn in a thread on a free loopback port, for tests that
    drive it over real HTTP; `start` waits until it listens, or fails saying why."""

    def __init__(self, app: Any, *, port: int | None = None, name: str = "test server",
                 seconds: float = READY_SECONDS) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._name = name
        self._seconds = seconds
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        """Serve, and return the base URL once the server listens."""
        self._thread.start()
        began = time.monotonic()
        while not self.server.started:
            waited = time.monotonic() - began
            if not self._thread.is_alive():
                raise AssertionError(f"the {self._name} on port {self.port} stopped after "
                                     f"{waited:.1f} s before it listened (is the port taken?)")
            if waited > self._seconds:
                raise AssertionError(f"the {self._name} on port {self.port} did not listen "
                                     f"within {self._seconds:g} s")
            time.sleep(0.01)
        return self.base

    def stop(self) -> None:
        """Ask the server to exit and wait a moment for it."""
        self.server.should_exit = True
        self._thread.join(5)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
