"""`oscbot drill` for a Microsoft 365 team, end to end: app.yaml, the environment, the
production wiring and a local fake of Graph. Proves the app can read the calendar and
mailbox settings and could change the rule, or names what is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handlers.cli.app import app
from tests.fakes.graph import FakeGraph, Group

APP_YAML = """\
team: {name: Builder Homes, timezone: America/Chicago, channel: "#sales",
       managers: [dana@builder.example]}
people:
  - {email: maria@builder.example, name: Maria Lopez, role: osc,
     calendar: {outlook: maria@builder.example}, backups: [jordan@builder.example],
     routing_ids: {m365_group: leads-maria@builder.example}}
  - {email: jordan@builder.example, name: Jordan Kim, role: backup, trained: true,
     shadowed: true}
  - {email: dana@builder.example, name: Dana, role: manager}
routing:
  email: {adapter: EMAIL_ADAPTER, settings: {lead_senders: "leads@site.example"}}
"""


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        fake.mailbox("maria@builder.example")
        fake.user("jordan@builder.example")
        fake.groups["g1"] = Group("g1", "leads-maria@builder.example",
                                  [fake.user("maria@builder.example")], auto_subscribe=True)
        fake.app_reads_group_subscription = True
        for key, value in {**fake.env(), "SSL_CERT_FILE": fake.ca_file,
                           "REQUESTS_CA_BUNDLE": fake.ca_file,
                           "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"}.items():
            monkeypatch.setenv(key, value)
        yield fake


def drill(tmp_path: Path, adapter: str) -> tuple[int, str]:
    config = tmp_path / "app.yaml"
    config.write_text(APP_YAML.replace("EMAIL_ADAPTER", adapter), encoding="utf-8")
    result = CliRunner().invoke(app, ["drill", "maria@builder.example", "--config",
                                      str(config)], env={"COLUMNS": "200"})
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("adapter", ["outlook_rule", "m365_group"])
def test_drill_is_ready_when_every_permission_is_there(graph: FakeGraph, tmp_path: Path,
                                                       adapter: str) -> None:
    code, output = drill(tmp_path, adapter)
    assert code == 0, output
    assert "calendar: ready" in output and f"email ({adapter}): ready" in output
    assert graph.writes() == []


def test_drill_names_missing_permissions_with_the_admin_step(graph: FakeGraph,
                                                             tmp_path: Path) -> None:
    graph.roles -= {"Calendars.Read", "MailboxSettings.ReadWrite"}
    code, output = drill(tmp_path, "outlook_rule")
    assert code == 1 and "NOT READY" in output
    assert "lacks the Calendars.Read application permission" in output
    assert "Application Calendars.Read" in output and "Grant admin consent" in output
    assert "does not carry MailboxSettings.ReadWrite" in output
    assert graph.writes() == []


def test_drill_says_what_graph_cannot_do_and_stays_ready(graph: FakeGraph,
                                                         tmp_path: Path) -> None:
    # A dynamic group: the switch will be a manual step, which a drill reports but which
    # does not make the handoff fail.
    group = graph.groups["g1"]
    group.group_types = ("Unified", "DynamicMembership")
    group.membership_rule = 'user.department -eq "Online Sales"'
    code, output = drill(tmp_path, "m365_group")
    assert code == 0, output
    assert "email (m365_group): manual step: the group is a dynamic group" in output
    assert graph.writes() == []


def test_drill_names_user_read_all_when_the_old_setup_is_granted(graph: FakeGraph,
                                                                  tmp_path: Path) -> None:
    graph.roles = {"Calendars.Read", "MailboxSettings.Read", "GroupMember.ReadWrite.All",
                   "User.ReadBasic.All"}
    code, output = drill(tmp_path, "m365_group")
    assert code == 1 and "NOT READY" in output
    assert "lacks the User.Read.All application permission" in output
    assert "User.ReadBasic.All, which it holds, does not cover" in output
