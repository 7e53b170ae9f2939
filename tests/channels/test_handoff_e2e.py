"""Hand-off to a person end-to-end: the real action server and `rasa run`, the staff channel
in the fake Slack Web API, a Teams partner through the fake Bot Connector, a REST/widget
partner through the REST channel and the widget's history endpoint, the webhook received by
a fake ticket system. (The widget in a real browser: tests/browser/test_handoff_widget.py.)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.serve import Bot
from tests.channels.conftest import (
    API_TOKEN,
    CHANNEL_VARS,
    http,
    slack_env,
    teams_env,
    tracker,
    user_events,
    wait_turns,
)
from tests.channels.fakes import (
    FakeBotFramework,
    FakeSlack,
    FakeWebhook,
    slack_block_actions,
    slack_event,
    slack_signed,
    teams_activity,
    wait_for,
)
from tests.channels.test_teams_e2e import JA_NOT_AUTHORIZED, ZH_NOT_AUTHORIZED, texts
from tests.support.bots import served

STAFF_CHANNEL = "C0STAFF001"
STAFF_USER = "U0STAFF001"
OUTSIDER = "U0NOTSTAFF"
TIMEOUT_S = 20
WEBHOOK_SECRET = "ticket-system-secret"
ADDRESSES = "support.serviceshub.microsoft.com"  # in today's hand-off answer only


def handoff_env(slack: FakeSlack, webhook: FakeWebhook) -> dict[str, str]:
    return {"HANDOFF_SLACK_CHANNEL": STAFF_CHANNEL, "HANDOFF_STAFF_IDS": STAFF_USER,
            "HANDOFF_TIMEOUT_SECONDS": str(TIMEOUT_S), "HANDOFF_CHECK_INTERVAL_SECONDS": "1",
            "HANDOFF_WEBHOOK_URL": f"{webhook.url}/hook",
            "HANDOFF_WEBHOOK_SECRET": WEBHOOK_SECRET, "HANDOFF_WEBHOOK_BACKOFF_SECONDS": "0.5"}


@pytest.fixture(scope="module")
def webhook() -> Iterator[FakeWebhook]:
    fake = FakeWebhook().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def handoff_bot(channel_model: Any, fake_bf: FakeBotFramework, fake_slack: FakeSlack,
                webhook: FakeWebhook) -> Iterator[Bot]:
    env = ({var: "" for var in CHANNEL_VARS} | teams_env(fake_bf) | slack_env(fake_slack)
           | handoff_env(fake_slack, webhook))
    bot = Bot(model=channel_model, env=env, api_token=API_TOKEN)
    with served(bot) as started:
        yield started


# --- helpers ---------------------------------------------------------------------------------


def staff_post(fake: FakeSlack, marker: str) -> dict[str, Any]:
    """The staff channel's post of the hand-off whose text contains `marker`."""
    def find() -> dict[str, Any] | None:
        posts = [m for m in fake.replies(STAFF_CHANNEL)
                 if "thread_ts" not in m and marker in (m.get("text") or "")]
        return posts[-1] if posts else None
    return wait_for(find, timeout=60)


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(e for b in message.get("blocks") or [] if b["type"] == "actions"
                for e in b["elements"] if e["action_id"] == action_id)


def staff_click(bot: Bot, message: dict[str, Any], action_id: str,
                user: str = STAFF_USER) -> None:
    body = slack_block_actions(user, STAFF_CHANNEL, message, button(message, action_id))
    status, _ = http("POST", f"{bot.url}/webhooks/slack/webhook", body,
                     slack_signed(body, content_type="application/x-www-form-urlencoded"))
    assert status == 200


def staff_reply(bot: Bot, post: dict[str, Any], text: str, user: str = STAFF_USER) -> None:
    ts = f"{time.time():.6f}"
    event = {"type": "message", "channel": STAFF_CHANNEL, "user": user, "text": text,
             "ts": ts, "event_ts": ts, "thread_ts": post["ts"], "channel_type": "channel",
             "client_msg_id": str(uuid.uuid4())}
    body = json.dumps(slack_event(event), ensure_ascii=False).encode()
    status, _ = http("POST", f"{bot.url}/webhooks/slack/webhook", body, slack_signed(body))
    assert status == 200


def thread(fake: FakeSlack, post: dict[str, Any]) -> list[str]:
    return [m.get("text") or "" for m in fake.replies(STAFF_CHANNEL, post["ts"])]


def status_of(bot: Bot, sender: str) -> Any:
    return tracker(bot, sender)["slots"].get("handoff_status")


def wait_status(bot: Bot, sender: str, status: str, timeout: float = 60) -> dict[str, Any]:
    wait_for(lambda: status_of(bot, sender) == status, timeout=timeout)
    return tracker(bot, sender)


def rest(bot: Bot, sender: str, text: str, language: str = "ja") -> list[dict[str, Any]]:
    body = json.dumps({"sender": sender, "message": text,
                       "metadata": {"language": language}}).encode()
    status, answer = http("POST", f"{bot.url}/webhooks/rest/webhook", body,
                          {"Content-Type": "application/json"}, timeout=120)
    assert status == 200, answer
    return list(json.loads(answer))


def history(bot: Bot, sender: str) -> dict[str, Any]:
    status, body = http("GET", f"{bot.url}/webhooks/web/history/{sender}")
    assert status == 200
    return dict(json.loads(body))


def handoff_id(bot: Bot, sender: str) -> str:
    return str(tracker(bot, sender)["slots"]["handoff_id"])


# --- tests -----------------------------------------------------------------------------------


def test_teams_partner_reaches_a_person_and_comes_back(
        handoff_bot: Bot, fake_bf: FakeBotFramework, fake_slack: FakeSlack) -> None:
    first = teams_activity(fake_bf.service_url, JA_NOT_AUTHORIZED, locale="ja-JP")
    user, conversation = first["from"]["id"], first["conversation"]

    def say(text: str) -> None:
        activity = teams_activity(fake_bf.service_url, text, locale="ja-JP", user=user,
                                  conversation=conversation)
        status, _ = http("POST", f"{handoff_bot.url}/webhooks/teams/webhook",
                         json.dumps(activity, ensure_ascii=False).encode(),
                         {"Content-Type": "application/json",
                          "Authorization": f"Bearer {fake_bf.token()}"})
        assert status == 200

    def seen() -> str:
        return "\n".join(texts(a) for a in fake_bf.replies(conversation["id"]))

    say(JA_NOT_AUTHORIZED)
    wait_turns(handoff_bot, user, 1)
    say("/request_human")
    state = wait_turns(handoff_bot, user, 2)
    assert state["slots"]["diagnosis"] == "human_handoff"  # what the insights report counts
    assert state["slots"]["handoff_status"] == "waiting"
    assert "担当者" in seen() and ADDRESSES not in seen()  # told to wait, not the addresses

    # The summary in the staff channel: language, diagnosis, the partner's last messages.
    post = staff_post(fake_slack, handoff_id(handoff_bot, user))
    assert "Japanese" in post["text"] and "not_authorized" in post["text"]
    assert JA_NOT_AUTHORIZED in post["text"]

    staff_click(handoff_bot, post, "handoff_take", user=OUTSIDER)  # not on the staff list
    wait_for(lambda: any(OUTSIDER in t for t in thread(fake_slack, post)))
    assert status_of(handoff_bot, user) == "waiting"

    staff_click(handoff_bot, post, "handoff_take")
    state = wait_status(handoff_bot, user, "taken")
    assert any(e.get("name") == "action_handoff_taken" for e in state["events"])
    wait_for(lambda: "参加しました" in seen())  # told in Japanese that a person joined
    wait_for(lambda: any("Japanese" in t for t in thread(fake_slack, post)))

    # The person's reply reaches the partner without the partner writing.
    staff_reply(handoff_bot, post, "お待たせしました。サポートの田中です。")
    wait_for(lambda: "サポートの田中です" in seen())
    # The partner's answer reaches the thread, masked, not through NLU.
    say("ありがとうございます。アクセス ID は 1234-5678-9012 です")
    wait_for(lambda: any("ありがとうございます" in t for t in thread(fake_slack, post)))
    relayed = next(t for t in thread(fake_slack, post) if "ありがとうございます" in t)
    assert "1234-5678-9012" not in relayed and "[ID]" in relayed
    assert len(user_events(tracker(handoff_bot, user))) == 2

    # Back to the bot (the button of the updated staff post).
    update = wait_for(lambda: fake_slack.updates(STAFF_CHANNEL, post["ts"]))[-1]
    staff_click(handoff_bot, {**post, **update}, "handoff_end")
    state = wait_status(handoff_bot, user, "ended")
    wait_for(lambda: "アシスタント" in seen().split("サポートの田中です")[-1])
    assert state["latest_action_name"] == "action_listen"

    say("残りのインシデント数を確認したい")
    state = wait_turns(handoff_bot, user, 3)
    assert state["slots"]["diagnosis"] == "remaining_incidents"  # Rasa answered it
    assert state["slots"]["language"] == "ja"
    assert state["slots"]["handoff_from"] == "not_authorized"  # slots kept


def test_nobody_takes_it_the_partner_gets_the_summary(
        handoff_bot: Bot, fake_slack: FakeSlack, webhook: FakeWebhook) -> None:
    sender = f"web-{uuid.uuid4()}"
    webhook.fail_once.add(sender)
    rest(handoff_bot, sender, JA_NOT_AUTHORIZED)
    replies = rest(handoff_bot, sender, "/request_human")
    assert any((r.get("custom") or {}).get("handoff", {}).get("status") == "waiting"
               for r in replies)
    assert history(handoff_bot, sender)["handoff"] == "waiting"
    post = staff_post(fake_slack, handoff_id(handoff_bot, sender))

    state = wait_status(handoff_bot, sender, "missed", timeout=TIMEOUT_S + 60)
    assert any(e.get("name") == "action_handoff_missed" for e in state["events"])
    assert ADDRESSES in history(handoff_bot, sender)["messages"][-1]["text"]
    assert history(handoff_bot, sender)["handoff"] is None
    wait_for(lambda: any("Missed" in (u.get("text") or "")
                         for u in fake_slack.updates(STAFF_CHANNEL, post["ts"])))

    # The webhook: signed, retried after the 500, the same idempotency key, not again.
    deliveries = wait_for(lambda: [d for d in webhook.for_conversation(sender)
                                   if d["status"] == 200] and webhook.for_conversation(sender))
    time.sleep(2)
    deliveries = webhook.for_conversation(sender)
    assert [d["status"] for d in deliveries] == [500, 200]
    assert {d["headers"]["Idempotency-Key"] for d in deliveries} == {handoff_id(handoff_bot,
                                                                                sender)}
    assert deliveries[0]["body"]["summary"]["step_failed"]


def test_a_rasa_restart_in_a_live_handoff_loses_nothing(
        handoff_bot: Bot, fake_slack: FakeSlack) -> None:
    sender = f"web-{uuid.uuid4()}"
    rest(handoff_bot, sender, ZH_NOT_AUTHORIZED, "zh")
    rest(handoff_bot, sender, "/request_human", "zh")
    post = staff_post(fake_slack, handoff_id(handoff_bot, sender))
    assert "Chinese" in post["text"]
    staff_click(handoff_bot, post, "handoff_take")
    wait_status(handoff_bot, sender, "taken")

    handoff_bot.stop_rasa()
    handoff_bot.start_rasa()

    assert rest(handoff_bot, sender, "还在吗？", "zh") == []  # relayed, not answered by the bot
    wait_for(lambda: any("还在吗" in t for t in thread(fake_slack, post)))
    staff_reply(handoff_bot, post, "您好，我是客服小王。")
    wait_for(lambda: any(m.get("text") == "您好，我是客服小王。"
                         for m in history(handoff_bot, sender)["messages"]))
    shown = [m.get("text") for m in history(handoff_bot, sender)["messages"]]
    assert shown.index("还在吗？") < shown.index("您好，我是客服小王。")
    staff_reply(handoff_bot, post, "!bot")
    wait_status(handoff_bot, sender, "ended")
    assert history(handoff_bot, sender)["handoff"] is None
    replies = rest(handoff_bot, sender, ZH_NOT_AUTHORIZED, "zh")
    assert replies and tracker(handoff_bot, sender)["slots"]["language"] == "zh"


def test_slack_partner_reaches_a_person(handoff_bot: Bot, fake_slack: FakeSlack) -> None:
    user, channel = f"U{uuid.uuid4().hex[:10].upper()}", f"D{uuid.uuid4().hex[:10].upper()}"
    fake_slack.locales[user] = "zh-CN"

    def dm(text: str) -> None:
        ts = f"{time.time():.6f}"
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                 "event_ts": ts, "channel_type": "im", "client_msg_id": str(uuid.uuid4())}
        body = json.dumps(slack_event(event), ensure_ascii=False).encode()
        assert http("POST", f"{handoff_bot.url}/webhooks/slack/webhook", body,
                    slack_signed(body))[0] == 200

    def seen() -> str:
        return "\n".join(m.get("text") or "" for m in fake_slack.replies(channel))

    dm(ZH_NOT_AUTHORIZED)
    wait_turns(handoff_bot, user, 1)
    dm("转人工客服")
    wait_status(handoff_bot, user, "waiting")
    post = staff_post(fake_slack, handoff_id(handoff_bot, user))
    assert "Chinese" in post["text"]
    staff_click(handoff_bot, post, "handoff_take")
    wait_for(lambda: "客服人员已加入" in seen())
    staff_reply(handoff_bot, post, "您好，请问是哪个页面出错？")
    wait_for(lambda: "您好，请问是哪个页面出错？" in seen())  # in the partner's DM
    dm("权益页面")
    wait_for(lambda: any("权益页面" in t for t in thread(fake_slack, post)))
    staff_reply(handoff_bot, post, "!end")
    wait_status(handoff_bot, user, "ended")
    wait_for(lambda: "助手继续" in seen())
    assert len(user_events(tracker(handoff_bot, user))) == 2  # the relayed one is not Rasa's
