"""Hand-off to a person from the web widget in a real Chromium: the summary reaches the
(fake) Slack staff channel, a person's reply appears in the widget without the partner
typing, the partner's answer reaches the staff thread, and the bot takes over again with
the conversation's slots.

Run: .venv/bin/python -m pytest tests/browser/test_handoff_widget.py -m browser
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from scripts.serve import Bot
from tests.browser.conftest import API_TOKEN
from tests.channels.fakes import (
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_TEAM,
    FakeSlack,
    slack_block_actions,
    slack_event,
    slack_signed,
    wait_for,
)
from tests.support.bots import served

pytestmark = pytest.mark.browser

STAFF_CHANNEL = "C0STAFF002"
STAFF_USER = "U0STAFF002"
JA_ACTIVATE = "技術サポート特典を有効にする方法を教えてください"
REPLY_TIMEOUT = 60_000


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def staffed_bot(request: pytest.FixtureRequest, slack: FakeSlack) -> Iterator[Bot]:
    override = os.environ.get("MPN_BROWSER_MODEL")
    model = Path(override) if override else Path(request.getfixturevalue("model_path"))
    env = {"SLACK_BOT_TOKEN": SLACK_BOT_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
           "SLACK_API_URL": slack.api_url, "SLACK_ALLOWED_TEAMS": SLACK_TEAM,
           "TEAMS_APP_ID": "", "TEAMS_APP_PASSWORD": "", "REDIS_URL": "",
           "HANDOFF_SLACK_CHANNEL": STAFF_CHANNEL, "HANDOFF_STAFF_IDS": STAFF_USER,
           "HANDOFF_TIMEOUT_SECONDS": "600", "HANDOFF_CHECK_INTERVAL_SECONDS": "1",
           "HANDOFF_OFFICE_HOURS": "", "HANDOFF_WEBHOOK_URL": ""}
    bot = Bot(model=model, env=env, api_token=API_TOKEN)
    with served(bot) as started:
        yield started


def post_to_slack(bot: Bot, body: bytes, content_type: str = "application/json") -> None:
    import urllib.request

    request = urllib.request.Request(f"{bot.url}/webhooks/slack/webhook", data=body,
                                     method="POST",
                                     headers=slack_signed(body, content_type=content_type))
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def click(bot: Bot, message: dict[str, Any], action_id: str) -> None:
    element = next(e for b in message["blocks"] if b["type"] == "actions"
                   for e in b["elements"] if e["action_id"] == action_id)
    post_to_slack(bot, slack_block_actions(STAFF_USER, STAFF_CHANNEL, message, element),
                  "application/x-www-form-urlencoded")


def reply_in_thread(bot: Bot, post: dict[str, Any], text: str) -> None:
    ts = f"{time.time():.6f}"
    event = {"type": "message", "channel": STAFF_CHANNEL, "user": STAFF_USER, "text": text,
             "ts": ts, "event_ts": ts, "thread_ts": post["ts"], "channel_type": "channel",
             "client_msg_id": str(uuid.uuid4())}
    post_to_slack(bot, json.dumps(slack_event(event), ensure_ascii=False).encode())


def type_message(page: Page, text: str) -> None:
    box = page.locator("textarea.mpn-input")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".mpn-typing")).to_be_hidden(timeout=REPLY_TIMEOUT)


def bot_bubbles(page: Page) -> Any:
    return page.locator(".mpn-bot:not(.mpn-welcome) .mpn-bubble")


def test_widget_partner_talks_to_a_person_and_back(page: Page, staffed_bot: Bot,
                                                   slack: FakeSlack) -> None:
    page.goto(f"{staffed_bot.url}/webhooks/web/")
    expect(page.locator("textarea.mpn-input")).to_be_editable()
    type_message(page, JA_ACTIVATE)
    type_message(page, "担当者と話したい")
    expect(bot_bubbles(page).last).to_contain_text("担当者", timeout=REPLY_TIMEOUT)

    post = wait_for(lambda: next((m for m in slack.replies(STAFF_CHANNEL)
                                  if "thread_ts" not in m), None))
    assert "Japanese" in post["text"] and JA_ACTIVATE in post["text"]
    click(staffed_bot, post, "handoff_take")
    # Shown without the partner typing: the widget polls its history during a hand-off.
    expect(bot_bubbles(page).last).to_contain_text("参加しました", timeout=REPLY_TIMEOUT)
    reply_in_thread(staffed_bot, post, "サポートの佐藤です。どの画面で止まりましたか？")
    expect(bot_bubbles(page).last).to_have_text("サポートの佐藤です。どの画面で止まりましたか？",
                                                timeout=REPLY_TIMEOUT)

    type_message(page, "アクティブ化のボタンが押せません")
    wait_for(lambda: any("アクティブ化のボタンが押せません" in (m.get("text") or "")
                         for m in slack.replies(STAFF_CHANNEL, post["ts"])))
    expect(page.locator(".mpn-user .mpn-bubble").last).to_have_text(
        "アクティブ化のボタンが押せません")

    update = wait_for(lambda: slack.updates(STAFF_CHANNEL, post["ts"]))[-1]
    click(staffed_bot, {**post, **update}, "handoff_end")
    expect(bot_bubbles(page).last).to_contain_text("アシスタント", timeout=REPLY_TIMEOUT)
    # The partner's message stayed where they wrote it, between the person's replies.
    users = page.locator(".mpn-user .mpn-bubble").all_text_contents()
    assert users[-1] == "アクティブ化のボタンが押せません"

    before = bot_bubbles(page).count()
    type_message(page, "残りのインシデント数を確認したい")
    expect(bot_bubbles(page)).not_to_have_count(before, timeout=REPLY_TIMEOUT)
    answer = " ".join(bot_bubbles(page).all_text_contents()[before:])
    assert "インシデント" in answer  # the bot answers again, in the conversation's language
