"""A local fake of Gmail's settings API (filters and forwarding addresses) for one
mailbox, strict where Gmail is
(https://developers.google.com/gmail/api/guides/forwarding_settings):

- the mailbox's access token;
- a forwarding address in the mailbox's domain, a subdomain of it, or a domain alias of
  the Workspace account is `accepted` at once; any other stays `pending` until its owner
  confirms (`confirm`);
- a filter may forward only to an accepted address: an unknown one answers 400
  "Unrecognized forwarding address", a pending one 400 "Invalid forwarding address"
  (both `failedPrecondition`).
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.routing.fake_google_admin import google_error
from tests.routing.fake_vendor import FakeVendor, Reply, Request

BASE = "/gmail/v1/users/me/settings/"


class FakeGmail(FakeVendor):
    """One mailbox's filters and forwarding addresses."""

    def __init__(self, *, token: str, mailbox: str, domain_aliases: tuple[str, ...] = ()
                 ) -> None:
        self.token = token
        self.domain = mailbox.rsplit("@", 1)[1].lower()
        self.domain_aliases = set(domain_aliases)
        self.filters: list[dict[str, Any]] = []
        self.forwarding: dict[str, str] = {}  # address -> verificationStatus
        self._ids = itertools.count(1)
        super().__init__()

    def confirm(self, address: str) -> None:
        """The address's owner clicks Gmail's confirmation link."""
        self.forwarding[address.lower()] = "accepted"

    def _needs_confirmation(self, address: str) -> bool:
        domain = address.rsplit("@", 1)[-1].lower()
        return not (domain == self.domain or domain.endswith(f".{self.domain}")
                    or domain in self.domain_aliases)

    def answer(self, request: Request) -> Reply:
        """Gmail's answer."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return google_error(401, "authError", "Invalid Credentials")
        path, method = request.path, request.method
        if path == BASE + "filters" and method == "GET":
            return Reply(200, {"filter": self.filters} if self.filters else {})
        if path == BASE + "filters" and method == "POST":
            return self._create_filter(request.body or {})
        if path.startswith(BASE + "filters/") and method == "DELETE":
            wanted = path.rsplit("/", 1)[1]
            if not any(f["id"] == wanted for f in self.filters):
                return google_error(404, "notFound", "Filter not found")
            self.filters = [f for f in self.filters if f["id"] != wanted]
            return Reply(204)
        if path == BASE + "forwardingAddresses" and method == "GET":
            return Reply(200, {"forwardingAddresses": [
                {"forwardingEmail": a, "verificationStatus": s}
                for a, s in self.forwarding.items()]})
        if path == BASE + "forwardingAddresses" and method == "POST":
            address = str((request.body or {}).get("forwardingEmail", "")).lower()
            if address not in self.forwarding:
                self.forwarding[address] = ("pending" if self._needs_confirmation(address)
                                            else "accepted")
            return Reply(200, {"forwardingEmail": address,
                               "verificationStatus": self.forwarding[address]})
        return google_error(404, "notFound", "Not Found")

    def _create_filter(self, body: dict[str, Any]) -> Reply:
        forward = str(body.get("action", {}).get("forward") or "").lower()
        if forward and forward not in self.forwarding:
            return google_error(400, "failedPrecondition", "Unrecognized forwarding address")
        if forward and self.forwarding[forward] != "accepted":
            return google_error(400, "failedPrecondition", "Invalid forwarding address")
        created = {"id": f"ANe1Bmj{next(self._ids)}", **body}
        self.filters.append(created)
        return Reply(200, created)
