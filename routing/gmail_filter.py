"""Email by Gmail filter: mail from the lead senders (the website form, Zillow, ...) in
the OSC's mailbox is forwarded to the backup while they cover.

Never a whole-inbox forward and never an autoresponder: only messages from the
configured lead senders (`settings.lead_senders`, comma separated) match. Restore
deletes exactly the filter the switch created and nothing else. Acts as the OSC
through domain-wide delegation (scopes gmail.settings.basic and .sharing).

Gmail forwards at once to an address in the OSC's domain, a subdomain of it or a domain
alias of the Workspace account; any other address must first confirm a message Gmail
sends it (https://developers.google.com/gmail/api/guides/forwarding_settings). Gmail
says which by the forwarding address's status, so oscbot asks it rather than guessing.
"""

from __future__ import annotations

import json
from typing import Any

from google.auth.exceptions import GoogleAuthError
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode, RoutingState
from routing.http_errors import error_for, network
from routing.setup import RoutingSetup, google_delegated

SCOPES = ("https://www.googleapis.com/auth/gmail.settings.basic",
          "https://www.googleapis.com/auth/gmail.settings.sharing")


def same_organisation(osc_email: str, backup_email: str) -> bool:
    """True when Gmail forwards without asking: the same domain or a subdomain of it
    (domain aliases too, which only Gmail's answer reveals)."""
    osc, backup = (e.rsplit("@", 1)[-1].lower() for e in (osc_email, backup_email))
    return backup == osc or backup.endswith(f".{osc}")


class GmailFilterRouting:
    """Switches responsive-lead email with one narrow forwarding filter."""

    name = "gmail_filter"

    def __init__(self, *, credentials_for: Any, lead_senders: list[str],
                 api_endpoint: str | None = None) -> None:
        if not lead_senders:
            raise RoutingError("gmail_filter needs settings.lead_senders (the addresses your "
                               "lead notifications come from)")
        self._credentials_for = credentials_for
        self._endpoint = api_endpoint
        self._query = " OR ".join(sorted(s.strip().lower() for s in lead_senders))

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """Where lead-sender mail goes now: a matching forward, or the OSC's own inbox."""
        settings = self._settings(osc)
        filters = self._filters(settings, osc)
        ours = [f for f in filters if f.get("criteria", {}).get("from") == self._query
                and f.get("action", {}).get("forward")]
        target = ours[0]["action"]["forward"] if ours else osc.email
        return RoutingState("email", target, {
            "filter_ids": json.dumps(sorted(f["id"] for f in filters))})

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Create the forwarding filter (once), when Gmail accepts the backup's address."""
        if self.read(osc=osc).target == backup.email:
            return self.read(osc=osc)
        settings = self._settings(osc)
        step = self._step(osc, backup)
        known = self._run(settings.forwardingAddresses().list(userId="me"),
                          what="listing forwarding addresses", step=step)
        addresses = {a["forwardingEmail"].lower(): a.get("verificationStatus")
                     for a in known.get("forwardingAddresses", [])}
        wanted = backup.email.lower()
        if wanted not in addresses:
            added = self._run(settings.forwardingAddresses().create(
                userId="me", body={"forwardingEmail": backup.email}),
                what=f"adding {backup.email} as a forwarding address", step=step)
            addresses[wanted] = added.get("verificationStatus")
        if addresses[wanted] != "accepted":
            # Outside the OSC's domains Gmail mailed the backup a link to confirm; the
            # engine tries again, and the brief says what to do meanwhile.
            raise RoutingError(
                f"Gmail has not accepted {backup.email} as a forwarding address yet: "
                f"{backup.name} must confirm the message Gmail sent them", transient=True,
                manual_step=f"Ask {backup.name} to click the link in Gmail's forwarding "
                            f"confirmation, or: {step}")
        self._run(settings.filters().create(userId="me", body={
            "criteria": {"from": self._query}, "action": {"forward": backup.email}}),
            what="creating the lead filter", step=step)
        return self.read(osc=osc)

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Delete the lead filters created since the snapshot; leave every other filter."""
        settings = self._settings(osc)
        before = set(json.loads(snapshot.details.get("filter_ids", "[]")))
        for found in self._filters(settings, osc):
            if found["id"] not in before and found.get("criteria", {}).get("from") == self._query:
                # 404: deleted by hand since it was listed.
                self._run(settings.filters().delete(userId="me", id=found["id"]),
                          what="deleting the lead filter", done_if=404,
                          step=f"In {osc.name}'s Gmail settings, delete the filter forwarding "
                               f"mail from {self._query}")
        return self.read(osc=osc)

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: the mailbox settings can be read, and whether Gmail will need the
        backup to confirm forwarding."""
        try:
            self.read(osc=osc)
            if same_organisation(osc.email, backup.email):
                return []
            settings = self._settings(osc)
            known = self._run(settings.forwardingAddresses().list(userId="me"),
                              what="listing forwarding addresses",
                              step=self._step(osc, backup))
        except RoutingError as exc:
            return [str(exc)]
        accepted = {a["forwardingEmail"].lower() for a in known.get("forwardingAddresses", [])
                    if a.get("verificationStatus") == "accepted"}
        if backup.email.lower() in accepted:
            return []
        return [f"{backup.email} is outside {osc.email.split('@')[-1]}: unless its domain is "
                "an alias in your Google Workspace account, Gmail will ask "
                f"{backup.name} to confirm forwarding before the switch can be made"]

    def _settings(self, osc: PersonConfig) -> Any:
        options = {"api_endpoint": self._endpoint} if self._endpoint else None
        service = discovery.build("gmail", "v1", credentials=self._credentials_for(osc.email),
                        static_discovery=True, cache_discovery=False, client_options=options)
        return service.users().settings()

    def _filters(self, settings: Any, osc: PersonConfig) -> list[dict[str, Any]]:
        answer = self._run(settings.filters().list(userId="me"), what="reading filters",
                           step=f"Check {osc.name}'s Gmail filters")
        filters: list[dict[str, Any]] = answer.get("filter", [])
        return filters

    @staticmethod
    def _run(request: Any, *, what: str, step: str, done_if: int | None = None
             ) -> dict[str, Any]:
        try:
            result: dict[str, Any] = request.execute(num_retries=0) or {}
            return result
        except HttpError as exc:
            if int(exc.resp.status) == done_if:
                return {}
            raise error_for(int(exc.resp.status), vendor="Gmail", what=what, manual_step=step,
                            retry_after=str(exc.resp.get("retry-after", ""))) from None
        except GoogleAuthError:
            raise error_for(401, vendor="Gmail", what=what, manual_step=step) from None
        except OSError as exc:
            raise network(exc, vendor="Gmail", what=what, manual_step=step) from None

    def _step(self, osc: PersonConfig, backup: PersonConfig) -> str:
        return (f"In {osc.name}'s Gmail settings, add a filter: from ({self._query}) → "
                f"forward to {backup.email}")


def build(setup: RoutingSetup) -> GmailFilterRouting | None:
    """A Gmail filter forwarding lead mail, set as each OSC with the service-account key in
    GOOGLE_APPLICATION_CREDENTIALS."""
    key = setup.env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not key:
        return None
    senders = [s for s in setup.settings.get("lead_senders", "").split(",") if s.strip()]
    return GmailFilterRouting(credentials_for=lambda email: google_delegated(key, SCOPES, email),
                              lead_senders=senders)
