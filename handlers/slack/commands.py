"""Slash commands in Slack, one listener each. `/coverage` is answered in its ack (from
a per-zone answer reused for a second); the others ack at once and answer through the
command's response_url once their service has run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import monotonic
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.errors import OscbotError
from bot.messages import Message
from handlers import commands
from handlers.slack.blocks import reply_text
from handlers.slack.directory import Directory
from handlers.slack.listener import Kind, Later, Listener, ack_now
from handlers.slack.replies import HELP, explain, slack_message, team_email, tell

# `/coverage` answers are reused this long per time zone: a burst of status checks
# (a team meeting, a busy morning) costs one read, and a change shows within a second.
STATUS_FRESH_FOR = 1.0


class RecentAnswers:
    """Answers by key, each reused for `fresh_for` seconds after it was computed."""

    def __init__(self, fresh_for: float, *, clock: Callable[[], float] = monotonic) -> None:
        self._fresh_for = fresh_for
        self._clock = clock
        self._answers: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The answer stored under `key` if still fresh."""
        stored = self._answers.get(key)
        if stored is None or self._clock() - stored[0] >= self._fresh_for:
            return None
        return stored[1]

    def put(self, key: str, answer: dict[str, Any]) -> None:
        """Store a freshly computed answer."""
        self._answers[key] = (self._clock(), answer)


class Commands:
    """`/coverage`, `/im-back`, `/handoff-drill` and `/oscbot`."""

    def __init__(self, ctx: AppContext, *, directory: Directory, later: Later) -> None:
        self._ctx = ctx
        self._directory = directory
        self._later = later
        self._status = RecentAnswers(STATUS_FRESH_FOR)
        self._reading: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def listeners(self) -> tuple[Listener, ...]:
        """The commands' rows of the listener table."""
        return (
            Listener(Kind.COMMAND, "/coverage", ack=self.coverage),
            Listener(Kind.COMMAND, "/im-back", ack=ack_now, lazy=(self.im_back,)),
            Listener(Kind.COMMAND, "/handoff-drill", ack=ack_now, lazy=(self.handoff_drill,)),
            Listener(Kind.COMMAND, "/oscbot", ack=self.oscbot, lazy=(self.lead_calendar,)),
        )

    async def coverage(self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient,
                       respond: AsyncRespond) -> None:
        """`/coverage`: who is out and who covers, in the ack when it is ready in time
        (almost always: it is reused per zone), else through the response_url."""
        known = self._directory.known_email(command["user_id"])
        fresh = self._status.get(self._ctx.config.zone_of(known)) if known else None
        if fresh is not None:
            # Answered from memory: no task, no wait (the common case in a burst).
            await ack(**fresh)
            return
        answer = await self._later.wait(self._coverage_answer(client, command["user_id"]))
        if answer.done():
            await ack(**answer.result())
            return
        await ack()
        self._later.then(answer, lambda message: tell(respond, message))

    async def _coverage_answer(self, client: AsyncWebClient, user_id: str) -> dict[str, Any]:
        email = await self._directory.email(client, user_id)
        if email is None:
            return {"text": reply_text(self._directory.refusal(user_id))}
        zone = self._ctx.config.zone_of(email)
        answer = self._status.get(zone)
        if answer is not None:
            return answer
        # One read per zone at a time: a burst that finds the answer stale waits for the
        # read already under way rather than starting its own.
        reading = self._reading.get(zone)
        if reading is None:
            reading = asyncio.ensure_future(self._read_status(zone))
            self._reading[zone] = reading
            reading.add_done_callback(lambda _: self._reading.pop(zone, None))
        return await asyncio.shield(reading)

    async def _read_status(self, zone: str) -> dict[str, Any]:
        # Off the event loop: a slow read must not hold up other acks.
        message = await asyncio.to_thread(commands.coverage_status, self._ctx, zone=zone)
        answer = slack_message(self._ctx, message)
        self._status.put(zone, answer)
        return answer

    async def im_back(self, command: dict[str, Any], client: AsyncWebClient,
                      respond: AsyncRespond) -> None:
        """`/im-back` after its ack: end the person's coverage (a manager's: anyone's)."""
        email = await team_email(self._directory, client, command["user_id"], respond)
        if email:
            text = await self._directory.expand(client, command.get("text") or "")
            await self._answer(respond, lambda: commands.im_back(self._ctx, actor=email,
                                                                 text=text))

    async def handoff_drill(self, command: dict[str, Any], client: AsyncWebClient,
                            respond: AsyncRespond) -> None:
        """`/handoff-drill [EMAIL]` after its ack: rehearse a handoff, switching nothing."""
        email = await team_email(self._directory, client, command["user_id"], respond)
        if email:
            target = (await self._directory.expand(client, command.get("text") or "")
                      ).strip() or email
            await self._answer(respond, lambda: commands.drill(self._ctx, osc_email=target))

    async def oscbot(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """`/oscbot`: the help, in the ack, unless it asks for a lead calendar."""
        if _asks_for_calendar(command):
            await ack()
        else:
            await ack(text=HELP)

    async def lead_calendar(self, command: dict[str, Any], client: AsyncWebClient,
                            respond: AsyncRespond) -> None:
        """`/oscbot calendar [EMAIL]` after its ack: someone's lead calendar."""
        if not _asks_for_calendar(command):
            return
        words = (await self._directory.expand(client, command.get("text") or "")).split()
        email = await team_email(self._directory, client, command["user_id"], respond)
        if email:
            person = words[1] if len(words) > 1 else None
            await self._answer(respond, lambda: commands.lead_calendar(
                self._ctx, actor=email, person=person))

    async def _answer(self, respond: AsyncRespond, run: Callable[[], Message]) -> None:
        """Run one command off the event loop; show its message or our words for why not."""
        try:
            message = await asyncio.to_thread(run)
        except OscbotError as exc:
            await tell(respond, {"text": explain(exc)})
            return
        await tell(respond, slack_message(self._ctx, message))


def _asks_for_calendar(command: dict[str, Any]) -> bool:
    # Read from the text as typed: expanding a mention or a mailto link never makes
    # the first word `calendar`, and the ack must not wait for a user lookup.
    return str(command.get("text") or "").split()[:1] == ["calendar"]
