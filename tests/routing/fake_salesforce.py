"""A local fake of Salesforce over HTTPS (simple-salesforce only speaks HTTPS): the OAuth
token endpoint (client credentials, JWT bearer), SOAP `login()`, SOQL with paging, and
sObject read and update — holding clients to what Salesforce does:

- sessions end after `session_timeout` seconds without a call (two hours by default in
  an org), and every call then answers 401 `INVALID_SESSION_ID`;
- the client credentials flow is served only at the org's My Domain, needs the app's
  consumer key and secret (HTTP Basic) and a Run As user;
- a JWT assertion must be signed with the app's key, issued by its consumer key, for a
  known user, to login or test.salesforce.com, and expire within three minutes;
- SOAP `login()` is refused from API 65.0 on;
- a Lead updated without `Sforce-Auto-Assign: FALSE` goes through the active assignment
  rule, which gives it to the web-lead queue
  (https://developer.salesforce.com/docs/platform/api-rest/guide/headers-autoassign.html).

Time is the fake's `clock` (a VirtualClock in tests). `mapped_session` gives a requests
session that reaches the fake for Salesforce's own host names.
"""

from __future__ import annotations

import base64
import re
import secrets
import ssl
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
import trustme
from requests.adapters import HTTPAdapter

from tests.routing.fake_vendor import FakeVendor, Raw, Reply, Request

BASE = "/services/data/v59.0"
MY_DOMAIN = "acme.my.salesforce.com"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
WEB_LEAD_QUEUE = "00G000000000WEB"
CONDITION = re.compile(r"(\w+) (=|<|>=) ('(?:[^'\\]|\\.)*'|true|false|[\d\-T:Z]+)")
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def _value(literal: str) -> Any:
    if literal.startswith("'"):
        return literal[1:-1].replace("\\'", "'")
    return {"true": True, "false": False}.get(literal, literal)


def _matches(row: dict[str, Any], where: str) -> bool:
    for field, op, literal in CONDITION.findall(where):
        have, want = row.get(field), _value(literal)
        if op == "=" and have != want:
            return False
        if op == "<" and not str(have) < str(want):
            return False
        if op == ">=" and not str(have) >= str(want):
            return False
    return True


def _oauth_error(error: str, description: str, status: int = 400) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


class FakeSalesforce(FakeVendor):
    """sObjects by type and id; SOQL `SELECT … FROM … WHERE a AND b [LIMIT n]`."""

    def __init__(self, *, token: str, ca: trustme.CA, page_size: int = 2000,
                 clock: Callable[[], float] = time.monotonic,
                 session_timeout: float = 2 * 3600) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"User": {}, "Lead": {},
                                                                "Task": {}}
        self.page_size = page_size
        self.clock = clock
        self.session_timeout = session_timeout
        # Sessions by access token, with the time of their last call.
        self.sessions: dict[str, float] = {token: clock()}
        self.apps: dict[str, str] = {}  # consumer key -> consumer secret
        self.app_keys: dict[str, str] = {}  # consumer key -> PEM public key (JWT bearer)
        self.run_as: str | None = None  # client credentials flow's Run As user
        self.passwords: dict[str, str] = {}  # username -> password + security token
        self.assignment_rule_active = True
        self.sign_ins: list[str] = []  # the flow of every sign-in, in order
        self._pending: dict[str, list[dict[str, Any]]] = {}
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        super().__init__(tls=context)

    def put(self, sobject: str, record_id: str, **fields: Any) -> None:
        """Store a record."""
        self.objects[sobject][record_id] = {"Id": record_id, **fields}

    def owner_of(self, sobject: str, record_id: str) -> str:
        """The record's OwnerId now."""
        return str(self.objects[sobject][record_id]["OwnerId"])

    def expire_sessions(self) -> None:
        """End every session, as a timeout or an admin's "log out all" does."""
        self.sessions.clear()

    def api_requests(self) -> list[Request]:
        """Requests to the REST API (not sign-ins)."""
        return [r for r in self.requests if r.path.startswith("/services/data/")]

    def answer(self, request: Request) -> Reply:
        """Salesforce's answer."""
        if request.path == "/services/oauth2/token" and request.method == "POST":
            return self._token(request)
        if request.path.startswith("/services/Soap/u/") and request.method == "POST":
            return self._soap_login(request)
        if not self._session_ok(request.headers.get("authorization", "")):
            return Reply(401, INVALID_SESSION)
        if request.path == f"{BASE}/query/" and request.method == "GET":
            return self._soql(request.query["q"][0])
        if request.path.startswith(f"{BASE}/query/") and request.method == "GET":
            return self._page(request.path.rsplit("/", 1)[1])
        parts = request.path.removeprefix(f"{BASE}/sobjects/").split("/")
        record = self.objects.get(parts[0], {}).get(parts[-1]) if len(parts) == 2 else None
        if record is None:
            return Reply(404, [{"errorCode": "NOT_FOUND",
                                "message": "The requested resource does not exist"}])
        if request.method == "PATCH":
            record.update(request.body)
            auto = request.headers.get("sforce-auto-assign", "TRUE").upper()
            if parts[0] == "Lead" and auto != "FALSE" and self.assignment_rule_active:
                record["OwnerId"] = WEB_LEAD_QUEUE
            return Reply(204)
        return Reply(200, {"attributes": {"type": parts[0]}, **record})

    def _session_ok(self, authorization: str) -> bool:
        token = authorization.removeprefix("Bearer ")
        last = self.sessions.get(token)
        now = self.clock()
        if last is None or now - last >= self.session_timeout:
            self.sessions.pop(token, None)
            return False
        self.sessions[token] = now
        return True

    def _new_session(self, flow: str) -> dict[str, Any]:
        token = f"00D000000000001!{secrets.token_urlsafe(24)}"
        self.sessions[token] = self.clock()
        self.sign_ins.append(flow)
        return {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
                "id": f"https://{LOGIN_HOSTS[0]}/id/00D000000000001/005000000000001",
                "issued_at": str(int(self.clock() * 1000)), "signature": "x"}

    def _token(self, request: Request) -> Reply:
        form = request.form()
        host = request.headers.get("host", "")
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            if host != MY_DOMAIN:
                return _oauth_error("invalid_grant", "request not supported on this domain")
            basic = request.headers.get("authorization", "").removeprefix("Basic ")
            key, _, secret = base64.b64decode(basic or b"").decode().partition(":")
            if self.apps.get(key) != secret or not key:
                return _oauth_error("invalid_client", "invalid client credentials")
            if self.run_as is None:
                return _oauth_error("invalid_grant", "no client credentials user enabled")
            return Reply(200, self._new_session("client credentials"))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt(form.get("assertion", ""))
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _jwt(self, assertion: str) -> Reply:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            key = self.app_keys.get(str(unverified.get("iss")))
            if key is None:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            claims = jwt.decode(assertion, key, algorithms=["RS256"],
                                audience=[f"https://{h}" for h in LOGIN_HOSTS],
                                options={"require": ["exp", "aud", "iss", "sub"]})
        except jwt.InvalidAudienceError:
            return _oauth_error("invalid_grant", "audience is invalid")
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        # At most three minutes ahead (a second more for rounding), on the wall clock the
        # assertion was signed by.
        if int(claims["exp"]) - time.time() > 181:
            return _oauth_error("invalid_grant", "expired authorization code")
        if claims["sub"] not in {u.get("Username") for u in self.objects["User"].values()}:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        return Reply(200, self._new_session("JWT bearer"))

    def _soap_login(self, request: Request) -> Reply:
        version = float(request.path.rsplit("/", 1)[1])
        if version >= 65.0:
            # login() is not available from API 65.0 on (SOAP API end-of-life policy).
            return self._soap_fault("UNSUPPORTED_API_VERSION",
                                    "login() is not available in this API version")
        text = request.raw.decode()
        username = re.search(r"<n1:username>(.*?)</n1:username>", text)
        password = re.search(r"<n1:password>(.*?)</n1:password>", text)
        if (username is None or password is None
                or self.passwords.get(username.group(1)) != password.group(1)):
            return self._soap_fault("INVALID_LOGIN",
                                    "Invalid username, password, security token")
        token = self._new_session("username and password")["access_token"]
        server = f"{self.url}/services/Soap/u/{version}/00D000000000001"
        return Reply(200, Raw((
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            '"http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            f"<soapenv:Body><loginResponse><result><serverUrl>{server}</serverUrl>"
            f"<sessionId>{token}</sessionId></result></loginResponse></soapenv:Body>"
            "</soapenv:Envelope>").encode(), "text/xml"))

    @staticmethod
    def _soap_fault(code: str, message: str) -> Reply:
        return Reply(500, Raw((
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf='
            '"urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
            f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring>"
            f"<detail><sf:LoginFault><sf:exceptionCode>{code}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault></detail>"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>").encode(), "text/xml"))

    def _soql(self, soql: str) -> Reply:
        found = re.match(r"SELECT (.+?) FROM (\w+)(?: WHERE (.+?))?(?: LIMIT (\d+))?$", soql)
        if found is None or found.group(2) not in self.objects:
            return Reply(400, [{"errorCode": "MALFORMED_QUERY", "message": soql}])
        fields = [f.strip() for f in found.group(1).split(",")]
        rows = [{"attributes": {"type": found.group(2)}, **{f: r.get(f) for f in fields}}
                for r in self.objects[found.group(2)].values()
                if _matches(r, found.group(3) or "")]
        if found.group(4):
            rows = rows[:int(found.group(4))]
        self._pending["01g-0"] = rows
        return self._page("01g-0")

    def _page(self, locator: str) -> Reply:
        prefix, offset = locator.rsplit("-", 1)
        rows = self._pending.get(f"{prefix}-0", [])
        start = int(offset)
        page = rows[start:start + self.page_size]
        done = start + len(page) >= len(rows)
        answer: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
        if not done:
            answer["nextRecordsUrl"] = f"{BASE}/query/{prefix}-{start + len(page)}"
        return Reply(200, answer)


def trusting_session(ca: trustme.CA, directory: Path) -> requests.Session:
    """A requests session that trusts the fake's certificate authority."""
    bundle = directory / "fake-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over verify
    session.verify = str(bundle)
    return session


class _ToFake(HTTPAdapter):
    """Sends requests for a Salesforce host name to the fake, keeping that name in the
    Host header (what DNS would do)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self._base = base

    def send(self, request: requests.PreparedRequest, **options: Any  # type: ignore[override]
             ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.headers["Host"] = parts.netloc
        request.url = self._base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **options)


def mapped_session(fake: FakeSalesforce, ca: trustme.CA, directory: Path,
                   hosts: Sequence[str] | None = None) -> requests.Session:
    """A trusting session on which https://acme.my.salesforce.com, login and test reach
    the fake."""
    session = trusting_session(ca, directory)
    for host in hosts or (MY_DOMAIN, *LOGIN_HOSTS):
        session.mount(f"https://{host}", _ToFake(fake.url))
    return session
