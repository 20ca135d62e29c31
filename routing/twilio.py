"""Twilio: calls to an OSC's Twilio number hit oscbot's voice webhook, which dials
whoever is responsible right now. A switch is therefore a change in oscbot's own
route table (like the builtin adapter); Twilio itself is only read, to check that
calls to the number really reach oscbot's webhook.

The webhook's address is OSCBOT_PUBLIC_URL + /voice/twilio, one URL for everything:
it is what the number's voice URL must be, and what Twilio's signature is checked
against. Twilio ignores a number's voice URL when the number belongs to a SIP trunk or
uses a TwiML app, so the check looks where the calls really go
(https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode, RoutingState
from bot.ports.routing import RouteRepository
from routing.builtin import BuiltinRouting

if TYPE_CHECKING:
    from routing.setup import RoutingSetup

VOICE_PATH = "/voice/twilio"
VOICEMAIL_PATH = "/voice/twilio/voicemail"
DIALLED_PATH = "/voice/twilio/dialled"
TIMEOUT = 15.0


def webhook_url(public_url: str) -> str:
    """The voice webhook's address: what the number calls and what Twilio signs."""
    return public_url.rstrip("/") + VOICE_PATH


def voicemail_url(public_url: str) -> str:
    """Where Twilio posts a finished voicemail recording."""
    return public_url.rstrip("/") + VOICEMAIL_PATH


def dialled_url(public_url: str) -> str:
    """Where Twilio posts how a dialled call ended."""
    return public_url.rstrip("/") + DIALLED_PATH


def voice_response(*, dial: str | None, fallback: str | None, voicemail: str | None = None,
                   dialled: str | None = None) -> str:
    """TwiML that rings the responsible person (or the fallback line), telling `dialled`
    how that ended; with nobody to ring, it takes a message (see `take_message`)."""
    response = VoiceResponse()
    number = dial or fallback
    if not number:
        return take_message(voicemail)
    if dialled:
        response.dial(number, timeout=25, action=dialled, method="POST")
    else:
        response.dial(number, timeout=25)
    return str(response)


def take_message(voicemail: str | None) -> str:
    """TwiML that records a message whose recording goes to `voicemail`: the action that
    ends the call (without one Twilio requests the same webhook again and the caller
    hears the prompt again)."""
    response = VoiceResponse()
    response.say("Sorry, nobody can take your call right now. Please leave a message "
                 "after the tone.")
    if voicemail:
        response.record(max_length=120, action=voicemail, method="POST")
    else:
        response.record(max_length=120)
    # Reached only when nothing was recorded (Twilio then skips the action).
    response.hangup()
    return str(response)


def after_dial(status: str, *, voicemail: str | None) -> str:
    """TwiML once the dialled person's line is done: end a call that was answered, else
    take a message rather than drop a caller nobody answered."""
    if status in ("completed", "answered"):
        response = VoiceResponse()
        response.hangup()
        return str(response)
    return take_message(voicemail)


def voicemail_taken() -> str:
    """TwiML thanking the caller and ending the call, once the message is recorded."""
    response = VoiceResponse()
    response.say("Thank you. We will call you back soon. Goodbye.")
    response.hangup()
    return str(response)


def valid_signature(*, auth_token: str, url: str, params: Mapping[str, str],
                    signature: str) -> bool:
    """True when X-Twilio-Signature matches the request (Twilio's own validator)."""
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def _status(exc: Exception) -> int | None:
    """The HTTP status of Twilio's answer, None when none came (network, timeout)."""
    if isinstance(exc, TwilioRestException):
        return int(exc.status)
    # A list raises TwilioException("Unable to fetch page", response) for a refused page.
    answer = exc.args[1] if isinstance(exc, TwilioException) and len(exc.args) > 1 else None
    status = getattr(answer, "status_code", None)
    return int(status) if isinstance(status, int) else None


class TwilioRouting(BuiltinRouting):
    """Switching is oscbot's route table; `check` confirms Twilio calls oscbot."""

    name = "twilio"

    def __init__(self, *, routes: RouteRepository, account_sid: str, auth_token: str,
                 webhook_url: str, api_base: str | None = None,
                 timeout: float = TIMEOUT) -> None:
        super().__init__(channel="calls", routes=routes)
        # Twilio's client logs every request's URL at INFO; oscbot's logs keep to its own.
        quiet = logging.getLogger("routing.twilio.http")
        quiet.setLevel(logging.WARNING)
        self._client = Client(account_sid, auth_token,
                              http_client=TwilioHttpClient(timeout=timeout, logger=quiet))
        if api_base:
            self._client.api.base_url = api_base
        self._webhook = webhook_url

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Route the OSC's calls to the backup (they need a phone number to be dialled)."""
        if not backup.phone:
            raise RoutingError(f"{backup.name} has no phone number in app.yaml to dial",
                               manual_step=f"Add a phone for {backup.name} to app.yaml")
        return super().switch(osc=osc, backup=backup, mode=mode)

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: the OSC's number exists in Twilio and its calls reach oscbot's
        webhook, by POST."""
        number = osc.routing_ids.get("twilio_number")
        if not number:
            return [f"no twilio_number for {osc.name} in app.yaml"]
        problems = [] if backup.phone else [f"{backup.name} has no phone number to dial"]
        if not self._webhook:
            return [*problems, "OSCBOT_PUBLIC_URL is not set: Twilio has no webhook to call"]
        try:
            found = self._client.incoming_phone_numbers.list(phone_number=number, limit=1)
            if not found:
                return [*problems, f"{number} is not a number in this Twilio account"]
            return problems + self._route_problems(number, found[0])
        except (TwilioException, requests.RequestException) as exc:
            status = _status(exc)
            if status is None:
                return [*problems, f"Twilio unreachable while looking up {number} "
                                   f"({type(exc).__name__})"]
            what = ("refused the credentials (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)"
                    if status in (401, 403) else f"answered HTTP {status}")
            return [*problems, f"Twilio {what} while looking up {number}"]

    def _route_problems(self, number: str, found: Any) -> list[str]:
        if found.voice_receive_mode == "fax":
            return [f"{number} receives faxes, not calls; set it to receive voice calls"]
        if found.trunk_sid:
            return [f"{number} belongs to the SIP trunk {found.trunk_sid}, so Twilio ignores "
                    f"its voice URL; take it off the trunk and set its voice URL to "
                    f"{self._webhook} (POST)"]
        url, method, where = found.voice_url, found.voice_method, f"{number}'s voice URL"
        if found.voice_application_sid:
            app = self._client.applications(found.voice_application_sid).fetch()
            url, method = app.voice_url, app.voice_method
            where = f"the TwiML app {found.voice_application_sid} that answers {number}"
        if (url or "") != self._webhook:
            return [f"{where} sends calls to {url or 'nowhere'}, not to oscbot "
                    f"({self._webhook}); change it"]
        if (method or "POST").upper() != "POST":
            return [f"{where} is called with {method}; oscbot's voice webhook takes POST, "
                    "so set the method to HTTP POST"]
        return []


def build(setup: RoutingSetup) -> TwilioRouting | None:
    """Twilio numbers whose voice webhook asks oscbot whom to dial, with TWILIO_ACCOUNT_SID
    and TWILIO_AUTH_TOKEN; the webhook is OSCBOT_PUBLIC_URL + /voice/twilio."""
    if not (setup.env.get("TWILIO_ACCOUNT_SID") and setup.env.get("TWILIO_AUTH_TOKEN")):
        return None
    public = setup.env.get("OSCBOT_PUBLIC_URL", "")
    return TwilioRouting(routes=setup.routes, account_sid=setup.env["TWILIO_ACCOUNT_SID"],
                         auth_token=setup.env["TWILIO_AUTH_TOKEN"],
                         webhook_url=webhook_url(public) if public else "",
                         api_base=setup.settings.get("base_url"))
