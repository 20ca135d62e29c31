"""A burst of 200 channel alerts through `oscbot run` with `team.chat: teams`, against the
fake Bot Connector at Teams' real per-thread limits (7 per second, 60 per 30 s, answered
with 429 + Retry-After when exceeded) plus injected 429s: each alert arrives exactly once,
in order, and the fake never had to throttle (the pacing is proven, not assumed).

At the real limits 200 posts take about 95 s; the alerts are queued into the shared
outbox, as another replica's alert job would."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.delivery.notify import Notifier
from bot.messages import Message, Section
from handlers.cli.app import SystemClock
from storage.engine import engine_from_url
from storage.repositories import sql_repositories
from tests.fakes.bot_connector import TEAM_ID, TENANT, FakeBotConnector, card_text, post_activity
from tests.handlers.teams.test_end_to_end import teams_config, wait_for
from tests.processes import free_port, oscbot_run

pytestmark = pytest.mark.slow

BURST = 200


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="about 100 s at Teams' real limits")
def test_two_hundred_alerts_through_oscbot_run_arrive_once_in_order(tmp_path: Path) -> None:
    port = free_port()
    database = f"sqlite:///{tmp_path / 'burst.db'}"
    with FakeBotConnector() as teams:
        env = {**os.environ, "PORT": str(port), "OSCBOT_CONFIG": str(teams_config(tmp_path)),
               "DATABASE_URL": database, "LEAD_WEBHOOK_SECRET": "s",
               "TEAMS_SERVICE_URL": teams.url, "TEAMS_TENANT_ID": TENANT,
               "GRAPH_BASE_URL": f"{teams.url}/v1.0",
               "TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED": "true"}
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
                     "OSCBOT_CHANNEL_INTERVAL_MS"):
            env.pop(name, None)
        with oscbot_run(env, tmp_path) as running:
            base = running.base
            assert post_activity(f"{base}/api/messages", teams.install()).status_code == 200
            wait_for(lambda: teams.messages(TEAM_ID), "the welcome post")

            # Every twentieth send from here is refused with 429 + Retry-After.
            start = teams.attempts
            teams.fail_at({start + n: 429 for n in range(5, 2 * BURST, 20)}, retry_after=0.5)
            repos = sql_repositories(engine_from_url(database))
            notifier = Notifier(outbox=repos.outbox, clock=SystemClock(),
                                channel="#online-sales")
            for n in range(BURST):
                notifier.post(key=f"burst:{n}", message=Message(
                    text=f"burst {n:03d}", blocks=(Section(f"burst {n:03d}"),)))

            def arrived() -> list[str]:
                return [t for t in map(card_text, teams.messages(TEAM_ID))
                        if t.startswith("burst ")]

            wait_for(lambda: len(arrived()) >= BURST, "the whole burst", 240)
            time.sleep(1.0)  # anything sent twice would show up now
        assert "Traceback" not in running.output, running.output[-3000:]

    assert arrived() == [f"burst {n:03d}" for n in range(BURST)]
    answered = [status for method, path, status in teams.requests
                if method == "POST" and path.endswith("/activities")]
    assert answered.count(201) == BURST + 1  # and the welcome post
    assert answered.count(429) >= 10
    assert [r for r in teams.refused if r[1] == "ThrottledByThreadLimit"] == []
    # Within Teams' limits at every moment: no 1 s window over 7, no 30 s window over 60.
    times = [at for conversation, at, _ in teams.arrivals if conversation == TEAM_ID]
    for count, window in teams.limits:
        assert all(times[i + count] - times[i] >= window for i in range(len(times) - count))
