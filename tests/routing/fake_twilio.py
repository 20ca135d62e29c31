"""A local fake of Twilio's REST API (2010-04-01) for phone numbers and TwiML apps,
strict where Twilio is (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource):

- HTTP Basic auth with the account SID and auth token (401, error 20003, otherwise);
- a number carries everything that decides where its calls go: `voice_url` and
  `voice_method` (GET or POST), `voice_application_sid` (a TwiML app whose own voice
  URL Twilio uses instead), `trunk_sid` (a SIP trunk, which wins over both) and
  `voice_receive_mode` (voice or fax);
- lists come in Twilio's page envelope.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.routing.fake_vendor import FakeVendor, Reply, Request


def twilio_error(status: int, code: int, message: str) -> Reply:
    """An error in Twilio's JSON shape."""
    return Reply(status, {"code": code, "message": message, "status": status,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}"})


class FakeTwilio(FakeVendor):
    """One account's incoming phone numbers and applications."""

    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.numbers: dict[str, dict[str, Any]] = {}
        self.applications: dict[str, dict[str, Any]] = {}
        super().__init__()

    def add_number(self, phone_number: str, **fields: Any) -> dict[str, Any]:
        """A number of this account, answering calls at `voice_url` unless told otherwise."""
        number = {"sid": f"PN{len(self.numbers):032d}", "account_sid": self.account_sid,
                  "phone_number": phone_number, "friendly_name": phone_number,
                  "voice_url": "", "voice_method": "POST", "voice_application_sid": "",
                  "trunk_sid": None, "voice_receive_mode": "voice",
                  "voice_fallback_url": "", "status": "in-use"}
        number.update(fields)
        self.numbers[phone_number] = number
        return number

    def add_application(self, sid: str, **fields: Any) -> None:
        """A TwiML app."""
        self.applications[sid] = {"sid": sid, "account_sid": self.account_sid,
                                  "voice_url": "", "voice_method": "POST", **fields}

    def answer(self, request: Request) -> Reply:
        """Twilio's answer."""
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return twilio_error(401, 20003, "Authenticate")
        account = f"/2010-04-01/Accounts/{self.account_sid}"
        if request.path == f"{account}/IncomingPhoneNumbers.json" and request.method == "GET":
            wanted = request.query.get("PhoneNumber", [""])[0]
            size = int(request.query.get("PageSize", ["50"])[0])
            found = [n for n in self.numbers.values()
                     if not wanted or n["phone_number"] == wanted][:size]
            uri = f"{account}/IncomingPhoneNumbers.json?PageSize={size}&Page=0"
            return Reply(200, {"incoming_phone_numbers": found, "page": 0, "page_size": size,
                               "start": 0, "end": max(len(found) - 1, 0), "uri": uri,
                               "first_page_uri": uri, "next_page_uri": None,
                               "previous_page_uri": None})
        if request.path.startswith(f"{account}/Applications/") and request.method == "GET":
            app = self.applications.get(request.path.rsplit("/", 1)[1].removesuffix(".json"))
            if app is None:
                return twilio_error(404, 20404, "The requested resource was not found")
            return Reply(200, app)
        return twilio_error(404, 20404, "The requested resource was not found")
