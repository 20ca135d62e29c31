"""Twilio: calls to an OSC's Twilio number hit oscbot's voice webhook, which dials
whoever is responsible right now. A switch is therefore a change in oscbot's own
route table (like the builtin adapter); Twilio itself is only read, to check that
the number's voice URL points at oscbot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from twilio.base.exceptions import TwilioException, TwilioRestException
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


def voice_response(*, dial: str | None, fallback: str | None) -> str:
    """TwiML that rings the responsible person (or the fallback line)."""
    response = VoiceResponse()
    number = dial or fallback
    if number:
        response.dial(number, timeout=25)
    else:
        response.say("Sorry, nobody can take your call right now. Please leave a message.")
        response.record(max_length=120)
    return str(response)


def valid_signature(*, auth_token: str, url: str, params: Mapping[str, str],
                    signature: str) -> bool:
    """True when X-Twilio-Signature matches the request (Twilio's own validator)."""
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


class TwilioRouting(BuiltinRouting):
    """Switching is oscbot's route table; `check` confirms Twilio calls oscbot."""

    name = "twilio"

    def __init__(self, *, routes: RouteRepository, account_sid: str, auth_token: str,
                 webhook_url: str, api_base: str | None = None) -> None:
        super().__init__(channel="calls", routes=routes)
        self._client = Client(account_sid, auth_token)
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
        """Read-only: the OSC's number exists in Twilio and its voice URL is oscbot's."""
        number = osc.routing_ids.get("twilio_number")
        if not number:
            return [f"no twilio_number for {osc.name} in app.yaml"]
        problems = [] if backup.phone else [f"{backup.name} has no phone number to dial"]
        try:
            found = self._client.incoming_phone_numbers.list(phone_number=number, limit=1)
        except TwilioRestException as exc:
            return [*problems, f"Twilio refused the lookup of {number} (HTTP {exc.status})"]
        except TwilioException as exc:
            return [*problems, f"Twilio unreachable ({type(exc).__name__})"]
        if not found:
            return [*problems, f"{number} is not a number in this Twilio account"]
        if (found[0].voice_url or "") != self._webhook:
            problems.append(f"{number} sends calls to {found[0].voice_url or 'nowhere'}, not "
                            f"to oscbot ({self._webhook}); change its voice webhook")
        return problems


def build(setup: RoutingSetup) -> TwilioRouting | None:
    """Twilio numbers whose voice webhook asks oscbot whom to dial, with TWILIO_ACCOUNT_SID
    and TWILIO_AUTH_TOKEN."""
    if not (setup.env.get("TWILIO_ACCOUNT_SID") and setup.env.get("TWILIO_AUTH_TOKEN")):
        return None
    return TwilioRouting(routes=setup.routes, account_sid=setup.env["TWILIO_ACCOUNT_SID"],
                         auth_token=setup.env["TWILIO_AUTH_TOKEN"],
                         webhook_url=setup.settings.get("webhook_url", ""))
