"""Slack end-to-end: the real action server and `rasa run` (credentials.yml as shipped),
requests shaped and signed like Slack's, replies caught by the fake Web API."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from scripts.serve import Bot
from tests.channels.conftest import bot_events, http, tracker, user_events, wait_turns
from tests.channels.fakes import (
    FakeSlack,
    slack_block_actions,
    slack_dm,
    slack_event,
    slack_mention,
    slack_signed,
)
from tests.channels.test_teams_e2e import (
    JA_NOT_AUTHORIZED,
    ZH_NOT_AUTHORIZED,
    is_chinese,
    is_japanese,
)


def new_user(fake: FakeSlack, locale: str) -> str:
    user = f"U{uuid.uuid4().hex[:10].upper()}"
    fake.locales[user] = locale
    return user


def dm_channel() -> str:
    return f"D{uuid.uuid4().hex[:10].upper()}"


def post(bot: Bot, body: bytes, headers: dict[str, str]) -> int:
    return http("POST", f"{bot.url}/webhooks/slack/webhook", body, headers)[0]


def post_event(bot: Bot, envelope: dict[str, Any], **headers: str) -> int:
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return post(bot, body, slack_signed(body, **headers))


def texts(message: dict[str, Any]) -> str:
    parts = [message.get("text") or ""]
    parts += [b["text"]["text"] for b in message.get("blocks") or [] if b.get("type") == "section"]
    return "\n".join(parts)


def assert_language(replies: list[dict[str, Any]], check: Any) -> None:
    assert replies, "no reply"
    for reply in replies:
        assert check(texts(reply)), f"reply in the wrong language: {texts(reply)!r}"


def test_japanese_dm_reaches_a_diagnosis(channel_bot: Bot, fake_slack: FakeSlack) -> None:
    user, channel = new_user(fake_slack, "ja-JP"), dm_channel()
    assert post_event(channel_bot, slack_event(slack_dm(user, JA_NOT_AUTHORIZED,
                                                        channel=channel))) == 200
    state = wait_turns(channel_bot, user, 1)
    assert state["slots"]["diagnosis"] == "not_authorized"
    assert state["slots"]["language"] == "ja"
    assert user_events(state)[0]["metadata"]["language"] == "ja"
    replies = fake_slack.replies(channel)
    assert_language(replies, is_japanese)
    assert all("thread_ts" not in r for r in replies)  # not written in a thread


def test_chinese_mention_in_a_thread(channel_bot: Bot, fake_slack: FakeSlack) -> None:
    user, channel, thread = new_user(fake_slack, "zh-CN"), f"C{uuid.uuid4().hex[:9]}", "1.5"
    event = slack_mention(user, ZH_NOT_AUTHORIZED, channel=channel, thread_ts=thread)
    assert post_event(channel_bot, slack_event(event)) == 200
    state = wait_turns(channel_bot, f"{channel}~{user}", 1)
    assert user_events(state)[0]["text"] == ZH_NOT_AUTHORIZED  # <@bot> removed
    assert state["slots"]["diagnosis"] == "not_authorized"
    replies = fake_slack.replies(channel)
    assert_language(replies, is_chinese)
    assert {r.get("thread_ts") for r in replies} == {thread}


def test_button_click(channel_bot: Bot, fake_slack: FakeSlack) -> None:
    user, channel = new_user(fake_slack, "ja-JP"), dm_channel()
    assert post_event(channel_bot, slack_event(slack_dm(user, JA_NOT_AUTHORIZED,
                                                        channel=channel))) == 200
    wait_turns(channel_bot, user, 1)
    replies = fake_slack.replies(channel)
    with_buttons = [m for m in replies
                    if any(b["type"] == "actions" for b in m.get("blocks") or [])]
    assert with_buttons, f"no buttons in {replies}"
    message = with_buttons[0]
    button = next(b for b in message["blocks"] if b["type"] == "actions")["elements"][0]
    click = slack_block_actions(user, channel, message, button)
    assert post(channel_bot, click, slack_signed(
        click, content_type="application/x-www-form-urlencoded")) == 200
    state = wait_turns(channel_bot, user, 2)
    clicked = user_events(state)[-1]
    assert clicked["text"] == button["value"]
    assert clicked["parse_data"]["intent"]["name"] == button["value"].lstrip("/").split("{")[0]
    after = fake_slack.replies(channel)[len(replies):]
    assert_language(after, is_japanese)


@pytest.mark.parametrize("locale, check, language", [
    ("zh-TW", is_chinese, "zh"), ("ja-JP", is_japanese, "ja"),
])
def test_user_locale_decides_the_language_of_latin_text(
        channel_bot: Bot, fake_slack: FakeSlack, locale: str, check: Any,
        language: str) -> None:
    user, channel = new_user(fake_slack, locale), dm_channel()
    assert post_event(channel_bot, slack_event(slack_dm(user, "Hello", channel=channel))) == 200
    state = wait_turns(channel_bot, user, 1)
    assert user_events(state)[0]["metadata"]["language"] == language
    assert state["slots"]["language"] == language
    assert_language(fake_slack.replies(channel), check)


def test_bad_or_stale_signatures_are_rejected(channel_bot: Bot, fake_slack: FakeSlack) -> None:
    user, channel = new_user(fake_slack, "ja-JP"), dm_channel()
    body = json.dumps(slack_event(slack_dm(user, JA_NOT_AUTHORIZED, channel=channel)),
                      ensure_ascii=False).encode()
    for headers in (slack_signed(body, secret="not-the-secret"),
                    slack_signed(body, timestamp=int(time.time()) - 6 * 60),
                    {"Content-Type": "application/json"}):
        assert post(channel_bot, body, headers) == 401
    tampered = slack_signed(body)
    assert post(channel_bot, body.replace(b"Ev", b"Ew", 1), tampered) == 401
    time.sleep(1)
    assert fake_slack.replies(channel) == []
    assert user_events(tracker(channel_bot, user)) == []


def test_retries_answer_exactly_once(channel_bot: Bot, fake_slack: FakeSlack) -> None:
    user, channel = new_user(fake_slack, "zh-CN"), dm_channel()
    envelope = slack_event(slack_dm(user, ZH_NOT_AUTHORIZED, channel=channel))
    assert post_event(channel_bot, envelope) == 200
    for number, reason in ((1, "http_timeout"), (2, "http_error")):
        assert post_event(channel_bot, envelope, **{"X-Slack-Retry-Num": str(number),
                                                    "X-Slack-Retry-Reason": reason}) == 200
    state = wait_turns(channel_bot, user, 1)
    time.sleep(2)  # a second answer, if any, would have started by now
    state = tracker(channel_bot, user)
    assert len(user_events(state)) == 1
    replies = fake_slack.replies(channel)
    # Twice answered would mean two user turns and twice the replies.
    assert replies and len(replies) <= len(bot_events(state))
