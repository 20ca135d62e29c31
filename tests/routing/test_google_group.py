"""Google Group membership swap through the real Admin SDK client, against a local fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.oauth2.credentials import Credentials

from bot.config.model import PersonConfig
from bot.errors import RoutingError
from bot.model import CoverageMode
from routing.google_group import GoogleGroupRouting
from tests.routing.fake_google_admin import FakeGoogleAdmin
from tests.routing.fake_vendor import Reply, Request

GROUP = "leads-maria@builder.example"
TOKEN = "ya29.admin-token"
OSC = PersonConfig(email="maria@builder.example", name="Maria", role="osc",
                   routing_ids={"google_group": GROUP})
BACKUP = PersonConfig(email="jordan@builder.example", name="Jordan", role="backup")


@pytest.fixture
def admin() -> Iterator[FakeGoogleAdmin]:
    with FakeGoogleAdmin(token=TOKEN) as fake:
        fake.add(GROUP, "maria@builder.example", "OWNER")
        fake.add(GROUP, "dana@builder.example", "MANAGER")
        yield fake


def email(admin: FakeGoogleAdmin, token: str = TOKEN) -> GoogleGroupRouting:
    return GoogleGroupRouting(credentials=Credentials(token=token),  # type: ignore[no-untyped-call]
                              api_endpoint=f"{admin.url}/")


def test_backup_joins_and_leaves_the_group(admin: FakeGoogleAdmin) -> None:
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
    assert admin.roles(GROUP) == {"maria@builder.example": "OWNER",
                                  "dana@builder.example": "MANAGER"}
    assert routing.read(osc=OSC) == before


def test_every_page_of_a_large_group_is_read(admin: FakeGoogleAdmin) -> None:
    for n in range(450):
        admin.add(GROUP, f"agent{n}@builder.example")
    state = email(admin).read(osc=OSC)
    assert len(state.target.split(",")) == 452
    lists = [r for r in admin.requests if r.method == "GET"]
    assert [r.query.get("pageToken") for r in lists] == [None, ["200"], ["400"]]
    assert all(r.query["maxResults"] == ["200"] for r in lists)


def test_a_whole_organisation_member_is_left_alone(admin: FakeGoogleAdmin) -> None:
    admin.add_customer(GROUP)  # "everyone at builder.example": no email
    routing = email(admin)
    assert routing.check(osc=OSC, backup=BACKUP) == []
    before = routing.read(osc=OSC)
    assert before.target == "dana@builder.example,maria@builder.example"
    routing.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    routing.restore(osc=OSC, snapshot=before)
    assert admin.roles(GROUP) == {"maria@builder.example": "OWNER",
                                  "dana@builder.example": "MANAGER", "C01abcde": "MEMBER"}


def test_already_a_member_under_an_alias_is_a_switch_done(admin: FakeGoogleAdmin) -> None:
    admin.add(GROUP, "jordan.kim@builder.example")
    admin.aliases["jordan@builder.example"] = "jordan.kim@builder.example"
    email(admin).switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    assert len(admin.roles(GROUP)) == 3  # nobody added twice


def test_restore_puts_owners_and_managers_back_in_their_role(admin: FakeGoogleAdmin) -> None:
    routing = email(admin)
    before = routing.read(osc=OSC)
    routing.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
    admin.groups[GROUP] = [m for m in admin.groups[GROUP]
                           if m["email"] != "dana@builder.example"]  # removed by mistake
    routing.restore(osc=OSC, snapshot=before)
    assert admin.roles(GROUP) == {"maria@builder.example": "OWNER",
                                  "dana@builder.example": "MANAGER"}


class RacingAdmin(FakeGoogleAdmin):
    """Somebody removes the backup by hand between oscbot's read and its delete."""

    def answer(self, request: Request) -> Reply:
        if request.method == "DELETE":
            self.groups[GROUP] = [m for m in self.groups[GROUP]
                                  if m["email"] != BACKUP.email]
        return super().answer(request)


def test_removing_someone_already_gone_is_a_restore_done() -> None:
    with RacingAdmin(token=TOKEN) as admin:
        admin.add(GROUP, OSC.email, "OWNER")
        routing = email(admin)
        before = routing.read(osc=OSC)
        routing.switch(osc=OSC, backup=BACKUP, mode=CoverageMode.SHORT_TERM)
        assert routing.restore(osc=OSC, snapshot=before).target == OSC.email
        assert [r.method for r in admin.writes()] == ["POST", "DELETE"]


def test_a_snapshot_without_roles_restores_members_as_members(admin: FakeGoogleAdmin) -> None:
    routing = email(admin)
    before = routing.read(osc=OSC)
    old = type(before)(before.channel, before.target, {
        "group": GROUP, "members": before.details["members"]})  # journaled before roles
    admin.groups[GROUP] = admin.groups[GROUP][:1]
    routing.restore(osc=OSC, snapshot=old)
    assert admin.roles(GROUP)["dana@builder.example"] == "MEMBER"


def test_errors_and_check(admin: FakeGoogleAdmin) -> None:
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
