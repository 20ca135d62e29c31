"""The Teams bot: the Teams SDK app mounted on oscbot's FastAPI server at POST /api/messages.

Handlers are thin: find who is acting (AAD object id →
roster email → app.yaml), call the same command/action code as Slack, render a card.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import re
import time
from datetime import timedelta
from typing import Any, cast

import httpx
from fastapi import FastAPI
from microsoft_teams.api.activities import MessageActivityInput
from microsoft_teams.api.auth.cloud_environment import CloudEnvironment
from microsoft_teams.api.models import Attachment
from microsoft_teams.apps import ActivityContext, App

from bot.context import AppContext
from bot.errors import InvalidInput, NotAllowed, NotFound, OscbotError
from bot.leads.alerts import lead_card
from bot.messages import ActionId, Message, Section
from bot.ports.chat import ConversationKind, ConversationRef, ConversationRefRepository
from handlers import commands
from handlers.actions import attempt
from handlers.teams import forms
from handlers.teams.cards import CARD_CONTENT_TYPE, handled, plain, render
from handlers.teams.chat import TeamsChat
from handlers.teams.endpoint import TeamsAdapter, TeamsSettings, tenant_of

log = logging.getLogger(__name__)
DOUBLE_CLICK = 30.0
HELP = ("oscbot keeps leads covered while an OSC is away. Mention @oscbot in the channel or "
        "write to it directly:\n"
        "- going on leave: the leave form (or: going on leave 2026-12-01 2026-12-05 vacation "
        "[for EMAIL])\n- coverage: who is out and who covers\n"
        "- im back: end your coverage now (managers: im back for EMAIL)\n"
        "- handoff drill [EMAIL]: practice run, switches nothing\n"
        "- calendar [EMAIL]: lead calendar (managers: anyone's)\n- help: this list")
_AT = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
LEAD_ACTIONS = {ActionId.LEAD_CALLED, ActionId.LEAD_EMAILED, ActionId.LEAD_TEXTED,
                ActionId.LEAD_APPOINTMENT, ActionId.LEAD_NOT_A_LEAD, ActionId.LEAD_CLAIM}


def command_text(text: str | None) -> str:
    """What a person typed, without the @mention of the bot, HTML or extra spaces."""
    plain_text = html.unescape(_TAG.sub(" ", _AT.sub(" ", text or "")))
    return " ".join(plain_text.replace("\u00a0", " ").split())


def _as_arguments(words: str) -> str:
    """`for EMAIL` / `backup EMAIL` as on Teams, into the console's `for:` / `backup:`."""
    return re.sub(r"\b(for|backup)\s+(\S+@\S+)", r"\1:\2", words, flags=re.IGNORECASE)


class TeamsBot:
    """Builds the Teams SDK app on our server and answers what Teams sends."""

    def __init__(self, ctx: AppContext, *, chat: TeamsChat, refs: ConversationRefRepository,
                 settings: TeamsSettings, cloud: CloudEnvironment | None = None) -> None:
        self.ctx = ctx
        self.chat = chat
        self.refs = refs
        self.settings = settings
        self._cloud = cloud
        self._recent: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.app: App | None = None

    def mount(self, api: FastAPI) -> App:
        """Create the SDK app with our adapter and register every handler."""
        adapter = TeamsAdapter(api, tenant_id=self.settings.tenant_id)
        if self.settings.unauthenticated:
            app = App(http_server_adapter=adapter, dangerously_allow_unauthenticated_requests=True,
                      service_url=self.settings.service_url)
        else:
            app = App(http_server_adapter=adapter, client_id=self.settings.client_id,
                      client_secret=self.settings.client_secret,
                      tenant_id=self.settings.tenant_id, service_url=self.settings.service_url,
                      cloud=self._cloud, dangerously_allow_unauthenticated_requests=False)
        self.chat.use_token_provider(None if self.settings.unauthenticated
                                     else app.token_provider)
        app.on_message(self.on_message)
        app.on_conversation_update(self.on_conversation_update)
        app.on_install_add(self.on_install)
        # Invoke answers are returned as Teams' wire JSON; the SDK passes dicts through.
        app.on_dialog_open(cast(Any, self.on_dialog_open))
        app.on_dialog_submit(cast(Any, self.on_dialog_submit))
        app.on_card_action(cast(Any, self.on_card_action))
        self.app = app
        return app

    async def start(self) -> None:
        """Register the messaging endpoint (the SDK's JWT validation included)."""
        assert self.app is not None
        await self.app.initialize()

    # --- who and where ----------------------------------------------------------

    async def actor(self, activity: dict[str, Any]) -> str | None:
        """The team email of whoever sent the activity, or None when not on the team."""
        aad = str((activity.get("from") or {}).get("aadObjectId") or "")
        if not aad:
            return None
        email = await asyncio.to_thread(self.chat.email_of, aad)
        return email if email and self.ctx.config.find_person(email) else None

    def remember(self, activity: dict[str, Any], email: str | None) -> ConversationRef | None:
        """Store where this conversation can be reached later."""
        conversation = activity.get("conversation") or {}
        kind_name = conversation.get("conversationType") or "personal"
        try:
            kind = ConversationKind(kind_name)
        except ValueError:
            return None
        sender = activity.get("from") or {}
        team = (activity.get("channelData") or {}).get("team") or {}
        personal = kind is ConversationKind.PERSONAL
        if personal and email is None:
            return None
        return self.refs.save(ConversationRef(
            conversation_id=str(conversation.get("id")),
            service_url=str(activity.get("serviceUrl") or self.settings.service_url),
            tenant_id=tenant_of(activity), kind=kind, team_id=team.get("id"),
            aad_object_id=sender.get("aadObjectId") if personal else None,
            user_id=sender.get("id") if personal else None, email=email if personal else None,
            name=str(team.get("name") or sender.get("name") or "")[:200],
            updated_at=self.ctx.clock.now()))

    def kick(self) -> None:
        """Deliver what a command queued now, without holding up the answer."""
        task = asyncio.create_task(asyncio.to_thread(self.ctx.delivery.kick))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- installation -------------------------------------------------------------

    async def first_time(self, event_id: str) -> bool:
        """Whether no replica has handled this event yet (the database decides, once)."""
        return await asyncio.to_thread(self.ctx.inbound.first_time, source="teams",
                                       event_id=event_id)

    async def first_press(self, activity: dict[str, Any], email: str, verb: str,
                          value: str) -> bool:
        """Whether no replica took this press of this button in the last 30-60 s.

        A press claims its 30 s slot and the next one, so a second press is caught however
        the slots fall, while a press retried a minute later (after a refusal or a failure)
        is taken again.
        """
        slot = int(self.ctx.clock.now().timestamp() // DOUBLE_CLICK)
        base = press_key(activity, email, verb, value)
        for n in (slot, slot + 1):
            if not await self.first_time(f"{base}:{n}"):
                return False
        return True

    async def new_activity(self, activity: dict[str, Any]) -> bool:
        """False for an activity Teams delivered again (to this replica or another)."""
        if not activity.get("id"):
            return True
        return await self.first_time(activity_key(activity))

    async def on_conversation_update(self, ctx: ActivityContext[Any]) -> None:
        """The app added to a team (or a chat): remember it and say hello in the channel."""
        activity = _raw(ctx)
        if not await self.new_activity(activity):
            return
        bot = (activity.get("recipient") or {}).get("id")
        if any(m.get("id") == bot for m in activity.get("membersAdded") or []):
            await self._installed(activity)

    async def on_install(self, ctx: ActivityContext[Any]) -> None:
        """installationUpdate add: same as being added to the conversation."""
        activity = _raw(ctx)
        if await self.new_activity(activity):
            await self._installed(activity)

    async def _installed(self, activity: dict[str, Any]) -> None:
        email = await self.actor(activity)
        ref = await asyncio.to_thread(self.remember, activity, email)
        if ref is not None and ref.kind is ConversationKind.CHANNEL:
            text = ("oscbot is installed here: briefs, lead alerts and escalations for "
                    f"{self.ctx.config.team.name} will be posted in this channel. "
                    "Mention @oscbot help to see what it can do.")
            self.ctx.notifier.post(key=f"teams-installed:{ref.conversation_id}",
                                   message=Message(text=text, blocks=(Section(text),)),
                                   channel=ref.conversation_id)
            self.kick()

    # --- commands -------------------------------------------------------------------

    async def on_message(self, ctx: ActivityContext[Any]) -> None:
        """A command typed in the 1:1 chat or after @oscbot in the channel."""
        activity = _raw(ctx)
        if not addressed_to_bot(activity):
            return  # channel chatter (the channel-read consent delivers it all): not ours
        if not await self.new_activity(activity):
            return  # delivered again: it was answered the first time
        email = await self.actor(activity)
        await asyncio.to_thread(self.remember, activity, email)
        text = command_text(activity.get("text"))
        content, changed = await asyncio.to_thread(self.command, email, text)
        if changed:
            self.kick()
        try:
            await ctx.send(MessageActivityInput(attachments=[
                Attachment(content_type=CARD_CONTENT_TYPE, content=content)]))
        except httpx.HTTPError as exc:
            # The command is done; a 500 would make Teams resend it and run it twice.
            log.warning("Teams reply could not be sent: %s", type(exc).__name__)

    def command(self, actor: str | None, text: str) -> tuple[dict[str, Any], bool]:
        """(the card answering a typed command, whether it changed anything)."""
        if actor is None:
            return plain("Sorry — your Teams account is not on the team in app.yaml "
                         "(ask your admin to add your email)."), False
        lowered = text.lower().replace("’", "'")
        zone = self.ctx.config.zone_of(actor)
        try:
            if lowered.startswith("going on leave"):
                rest = _as_arguments(text[len("going on leave"):].strip())
                if not rest or rest.lower().startswith("for:"):
                    osc = rest[4:] if rest else self._own_osc(actor)
                    return forms.open_button(osc), False
                return self._card(commands.going_on_leave(self.ctx, text=rest, actor=actor)), True
            if lowered in ("coverage", "who is out"):
                return self._card(commands.coverage_status(self.ctx, zone=zone)), False
            for back in ("im back", "i'm back", "i am back"):
                if lowered.startswith(back):
                    rest = _as_arguments(text[len(back):].strip())
                    return self._card(commands.im_back(self.ctx, actor=actor, text=rest)), True
            if lowered.startswith("handoff drill"):
                target = text[len("handoff drill"):].strip() or actor
                return self._card(commands.drill(self.ctx, osc_email=target)), False
            if lowered.startswith("calendar"):
                person = text[len("calendar"):].strip() or None
                return self._card(commands.lead_calendar(self.ctx, actor=actor,
                                                         person=person)), False
        except (InvalidInput, NotAllowed, NotFound) as exc:
            return plain(f"Sorry — {exc}"), False
        except OscbotError as exc:
            return plain(f"That did not work: {exc}"), False
        prefix = "" if lowered in ("", "help") else f"I did not understand “{text[:80]}”.\n\n"
        return plain(prefix + HELP), False

    def _own_osc(self, actor: str) -> str:
        person = self.ctx.config.person(actor)
        return actor if person.role.value == "osc" else self.ctx.config.oscs[0].email

    def _card(self, message: Message) -> dict[str, Any]:
        return render(message, resolve=self.chat.mentionable)[1]

    # --- the leave dialog -------------------------------------------------------------

    async def on_dialog_open(self, ctx: ActivityContext[Any]) -> dict[str, Any]:
        """task/fetch: show the leave form for the OSC named by the button."""
        activity = _raw(ctx)
        email = await self.actor(activity)
        if email is None:
            return forms.dialog_message("Sorry — your Teams account is not on the team.")
        data = (activity.get("value") or {}).get("data") or {}
        osc = str(data.get("osc") or self._own_osc(email))
        return await asyncio.to_thread(self._form, email, osc, {}, {})

    def _form(self, actor: str, osc: str, values: dict[str, str],
              errors: dict[str, str]) -> dict[str, Any]:
        now = self.ctx.clock.now()
        eligible: dict[str, list[str]] = {}
        for person in self.ctx.config.oscs:
            if person.email != osc and not self.ctx.config.is_manager(actor):
                continue
            choice = self.ctx.coverage.choose(osc_email=person.email, start=now,
                                              end=now + timedelta(days=1))
            skipped = {s.email for s in choice.skipped}
            eligible[person.email] = [b for b in person.backups if b not in skipped]
        today = now.astimezone(_zone(self.ctx, actor)).date()
        return forms.dialog("Going on leave", forms.leave_card(
            config=self.ctx.config, actor=actor, osc=osc, today=today, eligible=eligible,
            values=values, errors=errors))

    async def on_dialog_submit(self, ctx: ActivityContext[Any]) -> dict[str, Any]:
        """task/submit: check the form, declare the absence, close with a confirmation."""
        activity = _raw(ctx)
        email = await self.actor(activity)
        if email is None:
            return forms.dialog_message("Sorry — your Teams account is not on the team.")
        if not await self.new_activity(activity):
            return forms.dialog_message("Already received: see the confirmation above.")
        values = {k: str(v) for k, v in ((activity.get("value") or {}).get("data") or {}).items()
                  if k != "msteams"}
        answer, changed = await asyncio.to_thread(self._submit, email, values)
        if changed:
            self.kick()
        return answer

    def _submit(self, actor: str, values: dict[str, str]) -> tuple[dict[str, Any], bool]:
        form, errors = forms.read_leave(values, actor=actor, config=self.ctx.config,
                                        now=self.ctx.clock.now())
        osc = values.get("osc") or actor
        if form is None:
            return self._form(actor, osc, values, errors), False
        try:
            coverage = self.ctx.coverage.declare(
                osc_email=form.osc, start=form.start, end=form.end, kind=form.kind,
                actor=actor, backup_email=form.backup, notes=form.notes,
                emergency=form.emergency)
        except (InvalidInput, NotAllowed, NotFound) as exc:
            field = getattr(exc, "field", None) or "start"
            field = field if field in ("osc", "start", "end", "backup", "kind") else "start"
            return self._form(actor, osc, values, {field: str(exc)[:300]}), False
        confirmation = commands.confirmation(self.ctx, coverage,
                                             zone=self.ctx.config.zone_of(actor))
        return forms.dialog_message(confirmation.text), True

    # --- buttons ------------------------------------------------------------------------

    async def on_card_action(self, ctx: ActivityContext[Any]) -> dict[str, Any]:
        """adaptiveCard/action: the same permission checks as Slack; the card refreshed."""
        activity = _raw(ctx)
        action = (activity.get("value") or {}).get("action") or {}
        try:
            verb = ActionId(str(action.get("verb")))
        except ValueError:
            return forms.notice("That button is no longer supported.")
        value = str((action.get("data") or {}).get("value") or "")
        email = await self.actor(activity)
        if email is None:
            return forms.notice("Sorry — your Teams account is not on the team in app.yaml.")
        key = (email, verb.value, value)
        seen = self._recent.get(key)
        if seen is not None and time.monotonic() - seen[0] < DOUBLE_CLICK:
            return seen[1]
        # One press of a button on a card, across replicas: a double click (or Teams
        # delivering the invoke again) does nothing twice.
        if not await self.first_press(activity, email, verb.value, value):
            return forms.notice("Already received: that press is being handled.")
        done, reply = await asyncio.to_thread(attempt, self.ctx, action=verb, value=value,
                                              actor=email)
        if not done:
            return forms.notice(reply)
        self.kick()
        answer = forms.refreshed(await asyncio.to_thread(self._after, verb, value, reply))
        self._recent = {k: v for k, v in self._recent.items()
                        if time.monotonic() - v[0] < DOUBLE_CLICK}
        self._recent[key] = (time.monotonic(), answer)
        return answer

    def _after(self, verb: ActionId, value: str, reply: str) -> dict[str, Any]:
        message = None
        if verb in LEAD_ACTIONS:
            lead = self.ctx.leads.get(int(value))
            message = lead_card(lead, config=self.ctx.config,
                                zone=self.ctx.config.zone_of(lead.assigned_to),
                                covering_for=None)
        return handled(reply, message, resolve=self.chat.mentionable)


def addressed_to_bot(activity: dict[str, Any]) -> bool:
    """A 1:1 message, or a channel or group message that @mentions the bot."""
    kind = (activity.get("conversation") or {}).get("conversationType") or "personal"
    if kind == "personal":
        return True
    bot = (activity.get("recipient") or {}).get("id")
    return any(e.get("type") == "mention" and (e.get("mentioned") or {}).get("id") == bot
               for e in activity.get("entities") or [])


def activity_key(activity: dict[str, Any]) -> str:
    """The inbound dedupe id of an activity: its id within its conversation."""
    conversation = str((activity.get("conversation") or {}).get("id") or "")
    digest = hashlib.sha256(conversation.encode()).hexdigest()[:16]
    return f"activity:{digest}:{str(activity.get('id'))[:150]}"


def press_key(activity: dict[str, Any], email: str, verb: str, value: str) -> str:
    """The inbound dedupe id of a button press: who pressed which button on which card."""
    conversation = str((activity.get("conversation") or {}).get("id") or "")
    card = str(activity.get("replyToId") or activity.get("id") or "")
    parts = "\n".join((conversation, card, email.lower(), verb, value))
    return "press:" + hashlib.sha256(parts.encode()).hexdigest()[:40]


def _raw(ctx: ActivityContext[Any]) -> dict[str, Any]:
    """The activity as Teams sent it (wire names), for the few fields we read."""
    raw: dict[str, Any] = ctx.activity.model_dump(by_alias=True, exclude_none=True)
    return raw


def _zone(ctx: AppContext, email: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(ctx.config.zone_of(email))
