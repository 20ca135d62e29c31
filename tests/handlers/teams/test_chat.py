"""The Teams chat port through the real SDK against the fake Bot Connector over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.errors import ChatError
from bot.fakes.chat import InMemoryConversationRefs
from bot.fakes.clock import FixedClock
from bot.messages import ActionId, Actions, Button, Header, Message, Section, outside
from bot.ports.chat import ConversationKind, ConversationRef, MessageRef
from handlers.teams.chat import TeamsChat
from tests.fakes.bot_connector import BOT_ID, TEAM_ID, TENANT, FakeBotConnector, card_of

NAMES = {"jordan@rh.example": "Jordan", "dana@rh.example": "Dana"}


@pytest.fixture
def teams() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        fake.add_member("jordan@rh.example", "Jordan Kim")
        yield fake


def installed(fake: FakeBotConnector, clock: FixedClock) -> InMemoryConversationRefs:
    refs = InMemoryConversationRefs()
    refs.save(ConversationRef(conversation_id=TEAM_ID, service_url=fake.url, tenant_id=TENANT,
                              kind=ConversationKind.CHANNEL, team_id=TEAM_ID,
                              updated_at=clock.now()))
    return refs


def chat_for(fake: FakeBotConnector, clock: FixedClock, **options: object) -> TeamsChat:
    return TeamsChat(refs=installed(fake, clock), clock=clock, service_url=fake.url,
                     tenant_id=TENANT, bot_id=BOT_ID, names=NAMES, **options)  # type: ignore[arg-type]


ALERT = Message(text="Lead waiting", blocks=(
    Header("Lead waiting"),
    Section("<@jordan@rh.example>, " + outside("call <at>Dana</at> **now** [here](http://x.example)")),
    Actions((Button(ActionId.LEAD_CALLED, "Called", "7", "primary"),)),
))


def test_channel_post_is_a_universal_action_card_with_a_real_mention(
        teams: FakeBotConnector, clock: FixedClock) -> None:
    chat = chat_for(teams, clock)
    ref = chat.post(channel="#online-sales", message=ALERT)
    assert ref.channel == TEAM_ID
    [sent] = teams.messages(TEAM_ID)
    content = card_of(sent)
    assert content["version"] == "1.5"
    assert content["actions"][0] == {"type": "Action.Execute", "title": "Called",
                                     "verb": "lead_called", "data": {"value": "7"},
                                     "style": "positive"}
    [entity] = content["msteams"]["entities"]
    assert entity["text"] == "<at>Jordan</at>"
    body = content["body"][1]["text"]
    assert body.startswith("<at>Jordan</at>, call ‹at›Dana‹/at› \\*\\*now\\*\\*")
    assert "\\[here\\]\\(http://x.example\\)" in body


def test_a_dm_opens_a_chat_with_the_roster_member_once(teams: FakeBotConnector,
                                                        clock: FixedClock) -> None:
    chat = chat_for(teams, clock)
    chat.direct(email="jordan@rh.example", message=ALERT)
    chat.direct(email="Jordan@rh.example", message=ALERT)
    conv = teams.chat_with("jordan@rh.example")
    assert conv is not None and len(teams.messages(conv.id)) == 2
    assert teams.count("POST", r"^/v3/conversations$") == 1
    assert teams.count("GET", r"/members$") == 1


def test_someone_outside_the_roster_raises_a_manager_alert_with_what_to_do(
        teams: FakeBotConnector, clock: FixedClock) -> None:
    chat = chat_for(teams, clock)
    told: list[tuple[str, str]] = []
    chat.on_unreachable = lambda email, why: told.append((email, why))
    with pytest.raises(ChatError) as error:
        chat.direct(email="dana@rh.example", message=ALERT)
    assert not error.value.transient
    assert told and told[0][0] == "dana@rh.example"
    assert "Add them to the team" in told[0][1] and "Dana" in told[0][1]


def test_edits_replace_the_card_in_place(teams: FakeBotConnector, clock: FixedClock) -> None:
    chat = chat_for(teams, clock)
    ref = chat.post(channel="#online-sales", message=ALERT)
    chat.update(ref=ref, message=Message(text="Handled", blocks=(Section("Handled"),)))
    [sent] = teams.messages(TEAM_ID)
    assert card_of(sent)["body"][0]["text"] == "Handled"
    with pytest.raises(ChatError):
        chat.update(ref=MessageRef(TEAM_ID, "1:999"), message=ALERT)


@pytest.mark.parametrize("status", [412, 502, 504, 429])
def test_retryable_refusals_are_transient(teams: FakeBotConnector, clock: FixedClock,
                                          status: int) -> None:
    chat = chat_for(teams, clock)
    teams.fail_next(status, retry_after=3)
    with pytest.raises(ChatError) as error:
        chat.post(channel="#online-sales", message=ALERT)
    assert error.value.transient
    assert error.value.retry_after == (3.0 if status == 429 else None)


def test_pacing_stays_inside_seven_per_second(teams: FakeBotConnector,
                                              clock: FixedClock) -> None:
    chat = chat_for(teams, clock)
    started = time.monotonic()
    for _ in range(10):
        chat.post(channel="#online-sales", message=ALERT)
    assert time.monotonic() - started >= 0.9
    assert len(teams.messages(TEAM_ID)) == 10
    assert not teams.refused


def test_a_long_wait_goes_back_to_the_outbox(teams: FakeBotConnector,
                                             clock: FixedClock) -> None:
    chat = chat_for(teams, clock, limits=((2, 30.0),))
    chat.post(channel="#online-sales", message=ALERT)
    chat.post(channel="#online-sales", message=ALERT)
    with pytest.raises(ChatError) as error:
        chat.post(channel="#online-sales", message=ALERT)
    assert error.value.transient and 25 < error.value.retry_after <= 30


def test_not_installed_anywhere_says_how_to_install(clock: FixedClock) -> None:
    chat = TeamsChat(refs=InMemoryConversationRefs(), clock=clock,
                     service_url="http://127.0.0.1:9", tenant_id=TENANT, bot_id=BOT_ID,
                     names=NAMES)
    with pytest.raises(ChatError, match="Add to a team"):
        chat.post(channel="#online-sales", message=ALERT)


def test_a_send_is_found_again_by_its_outbox_key(teams: FakeBotConnector,
                                                 clock: FixedClock) -> None:
    chat = chat_for(teams, clock)
    ref = chat.post(channel="#online-sales", message=ALERT, key="lead-alert:7")
    assert chat.find_sent(key="lead-alert:7", channel="#online-sales", since=clock.now()) == ref
    assert chat.find_sent(key="lead-alert:8", channel="#online-sales", since=clock.now()) is None


def test_a_small_chart_is_shown_inline_and_a_large_one_is_pointed_to(
        teams: FakeBotConnector, clock: FixedClock) -> None:
    from handlers.teams.package import icons

    chat = chat_for(teams, clock)
    chat.upload(channel="#online-sales", filename="digest.png", content=icons()["outline.png"],
                title="Weekly digest")
    chat.upload(channel="#online-sales", filename="digest.png", content=b"x" * 50_000,
                title="Weekly digest")
    small, large = (card_of(m)["body"] for m in teams.messages(TEAM_ID))
    assert small[1]["type"] == "Image" and small[1]["url"].startswith("data:image/png;base64,")
    assert "oscbot report" in large[1]["text"]
