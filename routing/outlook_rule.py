"""Email by Outlook inbox rule: mail from the lead senders (the website form, Zillow, ...)
in the OSC's mailbox is forwarded to the backup while they cover.

The Exchange counterpart of `gmail_filter`: never a whole-inbox forward and never an
autoresponder, only messages from `settings.lead_senders`. Restore deletes exactly
the rule the switch created; a rule changed by hand meanwhile (another recipient,
other senders, switched off) reads back differently, so the engine reports it as a
conflict instead of deleting someone's edit. Needs MailboxSettings.ReadWrite on the
OSC's mailbox (scoped with Exchange RBAC for Applications, or tenant-wide).

Exchange's outbound spam policy drops automatic forwards to recipients outside the
organisation by default, so a backup outside it gets no rule but a manual step. Outside
means: not in one of the tenant's verified email domains (`GET /domains`, Domain.Read.All)
— a dealer group's second brand on its own domain is inside. Without that permission only
the OSC's own domain counts as inside, and the drill says which permission would help.

Creating a rule is not idempotent: when the answer to the POST is lost, the rules are
read again before anything is sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode, RoutingState
from m365.access import explain, routing_error, write_problem
from m365.graph import GraphClient, GraphError

if TYPE_CHECKING:
    from routing.setup import RoutingSetup

MARKER = "oscbot:"
WHAT = "inbox rules"


class _AnswerLost(Exception):
    """Graph may have carried out a change whose answer never came."""


class OutlookRuleRouting:
    """Switches responsive-lead email with one narrow forwarding rule."""

    name = "outlook_rule"

    def __init__(self, *, client: GraphClient, lead_senders: list[str]) -> None:
        senders = sorted({s.strip().lower() for s in lead_senders if s.strip()})
        if not senders:
            raise RoutingError("outlook_rule needs settings.lead_senders (the addresses your "
                               "lead notifications come from)")
        self._client = client
        self._senders = senders

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], client: GraphClient
                      ) -> OutlookRuleRouting:
        """Built from `routing.email.settings` in app.yaml."""
        return cls(client=client, lead_senders=settings.get("lead_senders", "").split(","))

    def read(self, *, osc: PersonConfig) -> RoutingState:
        """Where lead-sender mail goes now: our rule's recipient, or the OSC's own inbox."""
        rules = self._rules(osc)
        ours = [r for r in rules if self._ours(r)]
        target = osc.email
        if ours:
            target = self._target_of(ours[0])
        return RoutingState("email", target, {
            "rule_ids": json.dumps(sorted(str(r["id"]) for r in rules))})

    def switch(self, *, osc: PersonConfig, backup: PersonConfig,
               mode: CoverageMode) -> RoutingState:
        """Create the forwarding rule once; a rule already forwarding to the backup is kept."""
        step = self._step(osc, backup)
        outside = self._outside(osc, backup)
        if outside:
            # Exchange's outbound spam policy drops automatic forwards out of the
            # organisation by default: lead mail would vanish without an error.
            raise RoutingError(outside, manual_step=step)
        current = self.read(osc=osc)
        if current.target == backup.email:
            return current
        if current.target != osc.email:
            raise RoutingError(f"{osc.name}'s mailbox already has an oscbot lead rule "
                               f"forwarding to {current.target}; left as is", manual_step=step)
        body = {"displayName": f"{MARKER} lead mail to {backup.name} while {osc.name} is away",
                "sequence": 1, "isEnabled": True,
                "conditions": {"fromAddresses": [{"emailAddress": {"address": s}}
                                                 for s in self._senders]},
                "actions": {"forwardTo": [{"emailAddress": {"name": backup.name,
                                                            "address": backup.email}}],
                            "stopProcessingRules": False}}
        try:
            self._call("POST", osc, body=body, doing="creating the lead rule", step=step)
        except _AnswerLost:
            # Exchange may have created it: look before creating a second one.
            after = self.read(osc=osc)
            if after.target != backup.email:
                raise RoutingError("Microsoft Graph: the answer to creating the lead rule was "
                                   "lost and the rule is not there; it is tried again",
                                   transient=True, manual_step=step) from None
            return after
        return self.read(osc=osc)

    def restore(self, *, osc: PersonConfig, snapshot: RoutingState) -> RoutingState:
        """Delete the lead rule created since the snapshot; leave every other rule alone."""
        before = set(json.loads(snapshot.details.get("rule_ids", "[]")))
        step = f"In {osc.name}'s Outlook rules, delete the rule named \"{MARKER} lead mail…\""
        for rule in self._rules(osc):
            if rule["id"] not in before and self._ours(rule):
                self._call("DELETE", osc, rule_id=str(rule["id"]),
                           doing="deleting the lead rule", step=step)
        return self.read(osc=osc)

    def check(self, *, osc: PersonConfig, backup: PersonConfig) -> list[str]:
        """Read-only: the rules can be read, the token proves the app may write them, and the
        backup is inside the organisation (else the brief asks for the rule by hand)."""
        problems = []
        outside = self._outside(osc, backup)
        if outside:
            problems.append(f"manual step: {outside}; the brief will ask for the rule by "
                            f"hand: {self._step(osc, backup)}")
        try:
            self.read(osc=osc)
            roles = self._client.roles()
        except RoutingError as exc:
            return [*problems, str(exc)]
        except GraphError as exc:
            return [*problems, str(exc)]
        app_id = self._client.config.client_id
        missing = write_problem(roles, what=WHAT, app_id=app_id, mailbox=osc.email)
        domains = write_problem(roles, what="domains", app_id=app_id)
        if domains and outside:
            problems.append(f"oscbot could not read the tenant's domains: {domains}")
        return problems + ([missing] if missing else [])

    def _outside(self, osc: PersonConfig, backup: PersonConfig) -> str:
        """Why a forward to the backup would leave the organisation, or "" when it stays in."""
        domain = backup.email.rsplit("@", 1)[-1].lower()
        if domain == osc.email.rsplit("@", 1)[-1].lower():
            return ""
        try:
            accepted = self._domains(osc)
        except GraphError as exc:
            reason = explain(exc, what="domains", app_id=self._client.config.client_id)
            return (f"{backup.name}'s address is not in {osc.name}'s email domain, and oscbot "
                    f"cannot tell whether {domain} is one of your domains ({reason}); Exchange "
                    "blocks automatic forwarding out of the organisation unless an admin "
                    "allows it")
        if domain in accepted:
            return ""
        return (f"{backup.name} is outside the organisation ({domain} is not one of the "
                "tenant's verified email domains); Exchange blocks automatic forwarding out "
                "of the organisation unless an admin allows it")

    def _domains(self, osc: PersonConfig) -> set[str]:
        """The tenant's verified domains that take email (Microsoft 365's accepted domains)."""
        found: set[str] = set()
        for page in self._client.pages("domains", mailbox=osc.email):
            for domain in page.get("value", []):
                services = {str(s).lower() for s in domain.get("supportedServices") or ()}
                if domain.get("isVerified") and "email" in services:
                    found.add(str(domain["id"]).lower())
        return found

    def _ours(self, rule: Mapping[str, Any]) -> bool:
        if str(rule.get("displayName", "")).startswith(MARKER):
            return True
        # Renamed by hand: still ours if it forwards exactly the lead senders.
        return (self._senders_of(rule) == self._senders
                and bool(rule.get("actions", {}).get("forwardTo")))

    def _target_of(self, rule: Mapping[str, Any]) -> str:
        recipients = [str(r.get("emailAddress", {}).get("address", "")).lower()
                      for r in rule.get("actions", {}).get("forwardTo") or []]
        target = ",".join(recipients) or "nobody"
        if not rule.get("isEnabled", True):
            return f"{target} (rule switched off)"
        if self._senders_of(rule) != self._senders or len(recipients) != 1:
            return f"{target} (rule changed by hand)"
        return target

    @staticmethod
    def _senders_of(rule: Mapping[str, Any]) -> list[str]:
        found = rule.get("conditions", {}).get("fromAddresses") or []
        return sorted({str(a.get("emailAddress", {}).get("address", "")).lower()
                       for a in found})

    def _rules(self, osc: PersonConfig) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        try:
            for page in self._client.pages(self._path(osc), mailbox=osc.email):
                rules.extend(page.get("value", []))
        except GraphError as exc:
            raise self._error(exc, osc, doing="reading the inbox rules",
                              step=f"Check {osc.name}'s Outlook rules") from None
        return rules

    def _call(self, method: str, osc: PersonConfig, *, doing: str, step: str,
              body: Any = None, rule_id: str = "") -> None:
        path = self._path(osc) + (f"/{quote(rule_id)}" if rule_id else "")
        try:
            self._client.request(method, path, mailbox=osc.email, body=body)
        except GraphError as exc:
            if method == "DELETE" and exc.status == 404:
                return  # already gone: the goal of a delete
            if exc.maybe_applied and method == "POST":
                raise _AnswerLost() from None
            raise self._error(exc, osc, doing=doing, step=step) from None

    def _error(self, exc: GraphError, osc: PersonConfig, *, doing: str, step: str
               ) -> RoutingError:
        return routing_error(exc, what=WHAT, doing=doing, manual_step=step, mailbox=osc.email,
                             app_id=self._client.config.client_id)

    @staticmethod
    def _path(osc: PersonConfig) -> str:
        return f"users/{quote(osc.email)}/mailFolders/inbox/messageRules"

    def _step(self, osc: PersonConfig, backup: PersonConfig) -> str:
        return (f"In {osc.name}'s Outlook (Settings → Mail → Rules), add a rule: from "
                f"{', '.join(self._senders)} → forward to {backup.email}")


def build(setup: RoutingSetup) -> OutlookRuleRouting | None:
    """Built on the shared Graph client (GRAPH_CLIENT_ID, _SECRET and _TENANT_ID)."""
    client = setup.graph()
    return None if client is None else OutlookRuleRouting.from_settings(setup.settings, client)
