"""Google Group membership swap through the real Admin SDK client, against a local fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from google.oauth2.credentials import Credentials

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode
from routing.google_group import GoogleGroupRouting
from tests.routing.fake_vendor import FakeVendor

GROUP = "leads-maria@builder.example"
OSC = PersonConfig(email="maria@builder.example", name="Maria", role="osc",
                   routing_ids={"google_group": GROUP})
BACKUP = PersonConfig(email="jordan@builder.example", name="Jordan", role="backup")


@pytest.fixture
def members() -> dict[str, list[str]]:
    return {GROUP: ["maria@builder.example", "dana@builder.example"]}


@pytest.fixture
def admin(members: dict[str, list[str]]) -> Iterator[FakeVendor]:
    def route(method: str, path: str, query: dict[str, list[str]], body: Any
              ) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.split("/")]  # /admin/directory/v1/groups/G/members
        if len(parts) < 7 or parts[6] != "members" or parts[5] not in members:
            return 404, {"error": {"code": 404, "message": "Resource Not Found: groupKey"}}
        group = members[parts[5]]
        if method == "GET":
            return 200, {"kind": "admin#directory#members",
                         "members": [{"kind": "admin#directory#member", "email": e,
                                      "role": "MEMBER", "type": "USER"} for e in group]}
        if method == "POST":
            if body["email"] in group:
                return 409, {"error": {"code": 409, "message": "Member already exists."}}
            group.append(body["email"])
            return 200, {"kind": "admin#directory#member", **body}
        if method == "DELETE":
            group.remove(parts[7])
            return 204, None
        return 405, None

    with FakeVendor(route, auth="Bearer ya29.admin-token") as fake:
        yield fake


def email(admin: FakeVendor, token: str = "ya29.admin-token") -> GoogleGroupRouting:
    return GoogleGroupRouting(credentials=Credentials(token=token),
                              api_endpoint=f"{admin.url}/")


def test_backup_joins_and_leaves_the_group(admin: FakeVendor,
                                           members: dict[str, list[str]]) -> None:
    routing = email(admin)
    before = routing.read(osc=OSC)
    after = routing.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert "jordan@builder.example" in after.target
    routing.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    posts = [r for r in admin.writes() if r.method == "POST"]
    assert len(posts) == 1
    assert posts[0].path == "/admin/directory/v1/groups/leads-maria%40builder.example/members"
    assert posts[0].body == {"email": "jordan@builder.example", "role": "MEMBER",
                             "delivery_settings": "ALL_MAIL"}
    routing.restore(osc=OSC, snapshot=before)
    assert members[GROUP] == ["maria@builder.example", "dana@builder.example"]
    assert routing.read(osc=OSC) == before


def test_errors_and_check(admin: FakeVendor) -> None:
    routing = email(admin)
    admin.fail_next(429, {"Retry-After": "12"})
    with pytest.raises(RoutingError) as limited:
        routing.read(osc=OSC)
    assert limited.value.transient and limited.value.retry_after == 12
    admin.fail_next(500)
    with pytest.raises(RoutingError) as down:
        routing.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert down.value.transient
    with pytest.raises(RoutingError, match="credentials"):
        email(admin, token="expired").read(osc=OSC)
    gone = OSC.model_copy(update={"routing_ids": {"google_group": "nope@builder.example"}})
    assert "HTTP 404" in routing.check(osc=gone, backup=BACKUP)[0]
    assert routing.check(osc=OSC, backup=BACKUP) == []
    assert admin.writes() == []
