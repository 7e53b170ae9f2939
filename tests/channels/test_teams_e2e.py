"""Teams end-to-end: the real action server and `rasa run` (credentials.yml as shipped),
activities shaped like Microsoft's, replies caught by the fake Bot Framework."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest

from scripts.serve import Bot
from tests.channels.conftest import (
    bot_events,
    http,
    tracker,
    user_events,
    wait_turns,
)
from tests.channels.fakes import (
    BOT_NAME,
    TENANT,
    FakeBotFramework,
    bad_tokens,
    conversation_update,
    group_chat,
    mention_entity,
    team_channel,
    teams_activity,
    wait_for,
)

JA_NOT_AUTHORIZED = "パートナーセンターで『このアクションに対して承認されていない』と表示されます"
ZH_NOT_AUTHORIZED = "打开权益页面提示你无权执行此操作"
KANA = re.compile(r"[\u3040-\u30ff]")
HAN = re.compile(r"[\u4e00-\u9fff]")


def is_japanese(text: str) -> bool:
    return bool(KANA.search(text))


def is_chinese(text: str) -> bool:
    return bool(HAN.search(text)) and not KANA.search(text)


def texts(activity: dict[str, Any]) -> str:
    """What the user reads: the text and the cards' texts."""
    parts = [activity.get("text") or ""]
    for attachment in activity.get("attachments") or []:
        content = attachment.get("content") or {}
        parts += [str(content.get(k) or "") for k in ("title", "subtitle", "text")]
    return "\n".join(p for p in parts if p)


def buttons(activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for a in activities for att in a.get("attachments") or []
            for b in (att.get("content") or {}).get("buttons") or []]


def send(bot: Bot, fake: FakeBotFramework, activity: dict[str, Any],
         token: str | None = None) -> int:
    status, _ = http("POST", f"{bot.url}/webhooks/teams/webhook",
                     json.dumps(activity, ensure_ascii=False).encode(),
                     {"Content-Type": "application/json",
                      "Authorization": f"Bearer {token or fake.token()}"})
    return status


def converse(bot: Bot, fake: FakeBotFramework, activity: dict[str, Any], sender: str,
             turns: int = 1) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    assert send(bot, fake, activity) == 200
    state = wait_turns(bot, sender, turns)
    return state, fake.replies(activity["conversation"]["id"])


def assert_language(replies: list[dict[str, Any]], check: Any) -> None:
    shown = [texts(r) for r in replies if texts(r)]
    assert shown, f"no text in replies {replies}"
    for text in shown:
        assert check(text), f"reply in the wrong language: {text!r}"


@pytest.mark.parametrize("locale, text, check, language", [
    ("ja-JP", JA_NOT_AUTHORIZED, is_japanese, "ja"),
    ("zh-CN", ZH_NOT_AUTHORIZED, is_chinese, "zh"),
])
def test_conversation_reaches_a_diagnosis(channel_bot: Bot, fake_bf: FakeBotFramework,
                                          locale: str, text: str, check: Any,
                                          language: str) -> None:
    activity = teams_activity(fake_bf.service_url, text, locale=locale)
    state, replies = converse(channel_bot, fake_bf, activity, activity["from"]["id"])
    assert state["slots"]["diagnosis"] == "not_authorized"
    assert state["slots"]["language"] == language
    [user] = user_events(state)
    assert user["text"] == text
    assert user["metadata"]["language"] == language
    assert replies and len(replies) <= len(bot_events(state))
    assert_language(replies, check)
    assert all(r["recipient"]["id"] == activity["from"]["id"] for r in replies)


def test_button_click(channel_bot: Bot, fake_bf: FakeBotFramework) -> None:
    activity = teams_activity(fake_bf.service_url, JA_NOT_AUTHORIZED, locale="ja-JP")
    sender = activity["from"]["id"]
    _, replies = converse(channel_bot, fake_bf, activity, sender)
    clickable = [b for b in buttons(replies) if b["type"] == "messageBack"]
    assert clickable, f"no buttons in {replies}"
    button = clickable[0]
    click = teams_activity(fake_bf.service_url, button["text"], locale="ja-JP", user=sender,
                           conversation=activity["conversation"], value=button["value"],
                           replyToId=activity["id"])
    state, after = converse(channel_bot, fake_bf, click, sender, turns=2)
    clicked = user_events(state)[-1]
    assert clicked["text"] == button["value"]["payload"]
    intent = button["value"]["payload"].lstrip("/").split("{")[0]
    assert clicked["parse_data"]["intent"]["name"] == intent
    assert len(after) > len(replies)  # answered
    assert_language(after[len(replies):], is_japanese)


@pytest.mark.parametrize("locale, check, language", [
    ("zh-TW", is_chinese, "zh"), ("ja-JP", is_japanese, "ja"),
])
def test_locale_decides_the_language_of_latin_text(
        channel_bot: Bot, fake_bf: FakeBotFramework, locale: str, check: Any,
        language: str) -> None:
    activity = teams_activity(fake_bf.service_url, "Hello", locale=locale)
    state, replies = converse(channel_bot, fake_bf, activity, activity["from"]["id"])
    assert user_events(state)[0]["metadata"]["language"] == language
    assert state["slots"]["language"] == language
    assert_language(replies, check)


@pytest.mark.parametrize("locale, check", [("zh-CN", is_chinese), ("ja-JP", is_japanese)])
def test_welcome_when_the_bot_is_added(channel_bot: Bot, fake_bf: FakeBotFramework,
                                       locale: str, check: Any) -> None:
    update = conversation_update(fake_bf.service_url, locale=locale)
    state, replies = converse(channel_bot, fake_bf, update, update["from"]["id"])
    assert user_events(state)[0]["text"] == "/greet"
    assert_language(replies, check)


def test_group_chat_mentions_and_keys(channel_bot: Bot, fake_bf: FakeBotFramework) -> None:
    chat = group_chat()
    alice, bob = f"29:alice-{uuid.uuid4().hex[:8]}", f"29:bob-{uuid.uuid4().hex[:8]}"
    # Not mentioned: acknowledged, not answered.
    chatter = teams_activity(fake_bf.service_url, "お疲れさまです", conversation=chat, user=bob)
    assert send(channel_bot, fake_bf, chatter) == 200
    # Mentioned: answered, mention stripped, keyed by chat and user.
    asked = teams_activity(fake_bf.service_url, f"<at>{BOT_NAME}</at> {JA_NOT_AUTHORIZED}",
                           conversation=chat, user=alice)
    asked["entities"].append(mention_entity())
    state, replies = converse(channel_bot, fake_bf, asked, f"{chat['id']}~{alice}")
    assert user_events(state)[0]["text"] == JA_NOT_AUTHORIZED
    assert state["slots"]["diagnosis"] == "not_authorized"
    assert replies
    # Bob's chatter never reached Rasa; Alice's personal chat is another conversation.
    assert user_events(tracker(channel_bot, f"{chat['id']}~{bob}")) == []
    assert user_events(tracker(channel_bot, alice)) == []
    # A channel thread (conversation id with ;messageid=) is a conversation of its own.
    thread = team_channel()
    in_channel = teams_activity(fake_bf.service_url, f"<at>{BOT_NAME}</at> {ZH_NOT_AUTHORIZED}",
                                conversation=thread, user=alice, locale="zh-CN")
    in_channel["entities"].append(mention_entity())
    state, replies = converse(channel_bot, fake_bf, in_channel, f"{thread['id']}~{alice}")
    assert user_events(state)[0]["text"] == ZH_NOT_AUTHORIZED
    assert_language(replies, is_chinese)


def test_bad_tokens_get_401_and_no_reply(channel_bot: Bot, fake_bf: FakeBotFramework) -> None:
    conversation = {"conversationType": "personal", "tenantId": TENANT,
                    "id": f"a:bad-tokens-{uuid.uuid4().hex}"}
    user = f"29:intruder-{uuid.uuid4().hex[:8]}"
    activity = teams_activity(fake_bf.service_url, JA_NOT_AUTHORIZED, user=user,
                              conversation=conversation)
    for name, token in bad_tokens(fake_bf).items():
        assert send(channel_bot, fake_bf, activity, token) == 401, name
    # The right token, but for another serviceUrl than the activity's.
    elsewhere = dict(activity, serviceUrl="https://smba.trafficmanager.net/amer/")
    assert send(channel_bot, fake_bf, elsewhere) == 401
    status, _ = http("POST", f"{channel_bot.url}/webhooks/teams/webhook",
                     json.dumps(activity).encode(), {"Content-Type": "application/json"})
    assert status == 401
    time.sleep(1)
    assert fake_bf.replies(conversation["id"]) == []
    assert user_events(tracker(channel_bot, user)) == []


def test_other_tenant_refused(channel_bot: Bot, fake_bf: FakeBotFramework) -> None:
    conversation = {"conversationType": "personal", "tenantId": "another-tenant",
                    "id": f"a:foreign-{uuid.uuid4().hex}"}
    activity = teams_activity(fake_bf.service_url, "hi", conversation=conversation)
    assert send(channel_bot, fake_bf, activity) == 403
    assert user_events(tracker(channel_bot, activity["from"]["id"])) == []


def test_new_signing_key_is_picked_up(channel_bot: Bot, fake_bf: FakeBotFramework) -> None:
    warm = teams_activity(fake_bf.service_url, "Hello", locale="ja-JP")
    converse(channel_bot, fake_bf, warm, warm["from"]["id"])  # keys fetched and cached
    fake_bf.rotate_key()
    activity = teams_activity(fake_bf.service_url, ZH_NOT_AUTHORIZED, locale="zh-CN")
    state, replies = converse(channel_bot, fake_bf, activity, activity["from"]["id"])
    assert replies and state["slots"]["diagnosis"] == "not_authorized"
    wait_for(lambda: fake_bf.jwks_fetches >= 2, timeout=5)
