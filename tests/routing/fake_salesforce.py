"""A local fake of the Salesforce REST API (query with paging, sObject read and update),
served over HTTPS because simple-salesforce only speaks HTTPS."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import requests
import trustme

from tests.routing.fake_vendor import FakeVendor

BASE = "/services/data/v59.0"
CONDITION = re.compile(r"(\w+) (=|<|>=) ('(?:[^'\\]|\\.)*'|true|false|[\d\-T:Z]+)")


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


class FakeSalesforce(FakeVendor):
    """sObjects by type and id; SOQL `SELECT … FROM … WHERE a AND b [LIMIT n]`."""

    def __init__(self, *, token: str, ca: trustme.CA, page_size: int = 2000) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"User": {}, "Lead": {},
                                                                "Task": {}}
        self.page_size = page_size
        self._pending: dict[str, list[dict[str, Any]]] = {}
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        super().__init__(self._route, auth=f"Bearer {token}", tls=context)

    def put(self, sobject: str, record_id: str, **fields: Any) -> None:
        """Store a record."""
        self.objects[sobject][record_id] = {"Id": record_id, **fields}

    def owner_of(self, sobject: str, record_id: str) -> str:
        """The record's OwnerId now."""
        return str(self.objects[sobject][record_id]["OwnerId"])

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any
               ) -> tuple[int, Any]:
        if path == f"{BASE}/query/" and method == "GET":
            return self._soql(query["q"][0])
        if path.startswith(f"{BASE}/query/") and method == "GET":
            return self._page(path.rsplit("/", 1)[1])
        parts = path.removeprefix(f"{BASE}/sobjects/").split("/")
        record = self.objects.get(parts[0], {}).get(parts[-1]) if len(parts) == 2 else None
        if record is None:
            return 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does "
                          "not exist"}]
        if method == "PATCH":
            record.update(body)
            return 204, None
        return 200, {"attributes": {"type": parts[0]}, **record}

    def _soql(self, soql: str) -> tuple[int, Any]:
        found = re.match(r"SELECT (.+?) FROM (\w+)(?: WHERE (.+?))?(?: LIMIT (\d+))?$", soql)
        if found is None or found.group(2) not in self.objects:
            return 400, [{"errorCode": "MALFORMED_QUERY", "message": soql}]
        fields = [f.strip() for f in found.group(1).split(",")]
        rows = [{"attributes": {"type": found.group(2)}, **{f: r.get(f) for f in fields}}
                for r in self.objects[found.group(2)].values()
                if _matches(r, found.group(3) or "")]
        if found.group(4):
            rows = rows[:int(found.group(4))]
        self._pending["01g-0"] = rows
        return self._page("01g-0")

    def _page(self, locator: str) -> tuple[int, Any]:
        prefix, offset = locator.rsplit("-", 1)
        rows = self._pending.get(f"{prefix}-0", [])
        start = int(offset)
        page = rows[start:start + self.page_size]
        done = start + len(page) >= len(rows)
        answer: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
        if not done:
            answer["nextRecordsUrl"] = f"{BASE}/query/{prefix}-{start + len(page)}"
        return 200, answer


def trusting_session(ca: trustme.CA, directory: Path) -> requests.Session:
    """A requests session that trusts the fake's certificate authority."""
    bundle = directory / "fake-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over verify
    session.verify = str(bundle)
    return session
