"""`oscbot run` to its first answered `/healthz`, and its idle memory, next to a floor.

The floor is a bare Bolt AsyncApp (the same token, signing secret and fake Slack) in
FastAPI with a `/healthz` route, served by uvicorn: what any Slack bot on this stack
starts with. oscbot runs the example team on SQLite with Slack, lead intake, the
scheduler and delivery, its Slack calls going to a local fake Slack Web API.

Each is started ROUNDS times, interleaved (a first, uncounted round migrates the
database and warms the file cache); the time is from process start to the first 200
from `/healthz`, and the memory is the resident set (VmRSS) IDLE seconds later.
Targets (issue: fast at any size): no target is set for these two; the issue's table
gives the starting point (1.6 s and 118 MB against 0.64 s and 65 MB).
Run: .venv/bin/python bench/bench_run_startup.py
"""

from __future__ import annotations

import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import free_port  # noqa: E402

from bot.config.examples import EXAMPLES  # noqa: E402
from tests.fakes.slack_api import TOKEN, FakeSlack  # noqa: E402

ROUNDS, IDLE = 5, 3.0
SECRET = "bench-signing-secret"

FLOOR = """
import os, uvicorn
from fastapi import FastAPI, Request
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

bolt = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], process_before_response=True,
                client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"],
                                      base_url=os.environ["SLACK_API_URL"]))

@bolt.command("/coverage")
async def coverage(ack):
    await ack(text="Nobody is out.")

handler = AsyncSlackRequestHandler(bolt)
api = FastAPI()

@api.post("/slack/events")
async def events(request: Request):
    return await handler.handle(request)

@api.get("/healthz")
def healthz():
    return {"ok": True}

uvicorn.run(api, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
"""

OSCBOT = "import sys; from handlers.cli.app import main; sys.argv[0] = 'oscbot'; main()"


def healthy(port: int) -> bool:
    """True once `/healthz` answers 200."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS")


def start_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first healthy /healthz, idle RSS in MB) of one start."""
    port = free_port()
    began = time.perf_counter()
    process = subprocess.Popen(argv, env={**env, "PORT": str(port)}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not healthy(port):
            if process.poll() is not None:
                raise SystemExit(f"{argv} exited: {process.stderr.read().decode()[-2000:]}"
                                 if process.stderr else f"{argv} exited")
            if time.perf_counter() - began > 60:
                raise SystemExit(f"{argv} did not answer /healthz within 60 s")
            time.sleep(0.005)
        ready = time.perf_counter() - began
        time.sleep(IDLE)
        return ready, rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    """Interleaved starts of oscbot and the floor; the table of medians and ratios."""
    folder = tempfile.mkdtemp()
    with FakeSlack() as slack:
        common = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                  "SLACK_API_URL": slack.url, "PYTHONPATH": str(ROOT)}
        ours_env = {**common, "OSCBOT_CONFIG": str(EXAMPLES / "app.yaml"),
                    "DATABASE_URL": f"sqlite:///{folder}/run.db",
                    "LEAD_WEBHOOK_SECRET": "bench-lead-secret", "OSCBOT_LOG_LEVEL": "WARNING"}
        cases = {"oscbot run": ([sys.executable, "-c", OSCBOT, "run"], ours_env),
                 "floor: bare Bolt app": ([sys.executable, "-c", FLOOR], common)}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for round_number in range(ROUNDS + 1):
            for name, (argv, env) in cases.items():
                measured = start_once(argv, env)
                if round_number:  # round 0 migrates and warms up
                    results[name].append(measured)
    print(f"{ROUNDS} interleaved starts each, medians; RSS {IDLE:.0f} s after the first "
          "healthy /healthz")
    print(f"{'case':24} {'to /healthz s':>13} {'idle RSS MB':>11}")
    medians = {}
    for name, values in results.items():
        medians[name] = (statistics.median(v[0] for v in values),
                         statistics.median(v[1] for v in values))
        print(f"{name:24} {medians[name][0]:>13.2f} {medians[name][1]:>11.0f}")
    ours, floor = medians["oscbot run"], medians["floor: bare Bolt app"]
    print(f"{'ratio':24} {ours[0] / floor[0]:>12.2f}x {ours[1] / floor[1]:>10.2f}x")


if __name__ == "__main__":
    main()
