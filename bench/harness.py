"""What the HTTP benchmarks share: a server in its own process, wrk when installed."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_app(app: Any, port: int, ready: Any) -> None:
    """Run an ASGI app with uvicorn on loopback; set `ready` once it accepts requests."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error", lifespan="off"))

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        ready.set()
        await task

    asyncio.run(run())


# The process id behind each running server's base URL, for CPU accounting.
PIDS: dict[str, int] = {}


def cpu_seconds(base: str) -> float:
    """User + system CPU seconds the server behind `base` has used so far (Linux)."""
    return process_cpu_seconds(PIDS[base])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server_process(target: Callable[..., None], *args: Any) -> Iterator[str]:
    """Start `target(port, *args, ready)` in a process; yield its base URL; stop it."""
    port = free_port()
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=target, args=(port, *args, ready), daemon=True)
    process.start()
    try:
        if not ready.wait(60):
            raise SystemExit("server did not start")
        base = f"http://127.0.0.1:{port}"
        PIDS[base] = process.pid or 0
        yield base
    finally:
        process.terminate()
        process.join(5)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def wrk(url: str, lua: str, *, connections: int, seconds: int) -> str | None:
    """wrk's report for a Lua-scripted load, or None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    script = Path(tempfile.mkdtemp()) / "load.lua"
    script.write_text(lua)
    result = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                             "-s", str(script), url], capture_output=True, text=True,
                            check=True)
    return result.stdout
