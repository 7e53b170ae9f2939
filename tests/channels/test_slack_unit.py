"""Slack channel in-process: pure pieces, de-duplication (memory and a real Redis), locale,
webhook (no model)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from channels.settings import SlackSettings
from channels.slack import (
    LocaleCache,
    MemorySeen,
    RedisSeen,
    SlackChannelInput,
    action_message,
    button_blocks,
    event_message,
    signature_valid,
    to_mrkdwn,
)
from tests.channels.conftest import serve_channel, slack_env
from tests.channels.fakes import (
    SLACK_BOT_TOKEN,
    SLACK_BOT_USER,
    SLACK_SIGNING_SECRET,
    FakeSlack,
    slack_block_actions,
    slack_dm,
    slack_event,
    slack_mention,
    slack_signed,
)

# --- pure pieces ------------------------------------------------------------------------------


def test_signature() -> None:
    body = b'{"type":"event_callback"}'
    headers = slack_signed(body)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert signature_valid(SLACK_SIGNING_SECRET, body, ts, sig, 300)
    assert not signature_valid("another-secret", body, ts, sig, 300)
    assert not signature_valid(SLACK_SIGNING_SECRET, body + b" ", ts, sig, 300)
    flipped = sig[:-1] + ("1" if sig[-1] == "0" else "0")
    assert not signature_valid(SLACK_SIGNING_SECRET, body, ts, flipped, 300)
    assert not signature_valid(SLACK_SIGNING_SECRET, body, None, sig, 300)
    assert not signature_valid(SLACK_SIGNING_SECRET, body, "yesterday", sig, 300)
    assert not signature_valid(SLACK_SIGNING_SECRET, body, ts, None, 300)
    stale = slack_signed(body, timestamp=int(time.time()) - 301)
    assert not signature_valid(SLACK_SIGNING_SECRET, body, stale["X-Slack-Request-Timestamp"],
                               stale["X-Slack-Signature"], 300)
    future = slack_signed(body, timestamp=int(time.time()) + 301)
    assert not signature_valid(SLACK_SIGNING_SECRET, body, future["X-Slack-Request-Timestamp"],
                               future["X-Slack-Signature"], 300)


def _valid(body: bytes, ts: str, sig: str, window_s: float = 300) -> bool:
    return signature_valid(SLACK_SIGNING_SECRET, body, ts, sig, window_s)


def test_signature_replay_window_is_ours() -> None:
    """The configured window applies, not only the verifier's fixed 5 minutes."""
    body = b'{"type":"event_callback"}'
    headers = slack_signed(body, timestamp=int(time.time()) - 100)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert _valid(body, ts, sig, 300)
    assert not _valid(body, ts, sig, 60)


@pytest.mark.parametrize("timestamp", [
    "", " ", "1e9", "-1", "+1700000000", " 1700000000", "1700000000\n", "1_700_000_000",
    "١٧٠٠٠٠٠٠٠٠", "9" * 5000, "0x10",
])
def test_malformed_timestamp_is_a_refusal(timestamp: str) -> None:
    """Each of these made the verifier's int() raise, or would sign a timestamp Slack
    never sends (int() takes spaces, underscores and non-ASCII digits)."""
    body = b'{"type":"event_callback"}'
    sig = slack_signed(body)["X-Slack-Signature"]
    assert _valid(body, timestamp, sig) is False


def test_non_utf8_body_is_a_refusal() -> None:
    body = b'{"text":"\xff\xfe"}'  # correctly signed, but not UTF-8: the verifier raises
    headers = slack_signed(body)
    assert _valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]) \
        is False


@pytest.mark.parametrize("signature", ["v0=é", "v0=" + "\u3042" * 64, "\x00v0="])
def test_non_ascii_signature_is_a_refusal(signature: str) -> None:
    body = b'{"type":"event_callback"}'
    ts = slack_signed(body)["X-Slack-Request-Timestamp"]
    assert _valid(body, ts, signature) is False


def test_mrkdwn() -> None:
    assert to_mrkdwn("**重要**: [記事](https://learn.microsoft.com/a?b=1&c=2) a<b & c>d") == (
        "*重要*: <https://learn.microsoft.com/a?b=1&c=2|記事> a&lt;b &amp; c&gt;d")
    assert to_mrkdwn("1. 登录\n2. 点击") == "1. 登录\n2. 点击"


def test_block_kit_buttons() -> None:
    buttons = [{"title": "完成了，下一步", "payload": '/guide_next{"step": 1}'},
               {"title": "不行", "payload": '/guide_failed{"step": 1}'},
               {"title": "文章", "payload": "https://learn.microsoft.com/x"}]
    section, actions = button_blocks("**第 1 步**", buttons)
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "*第 1 步*"}}
    assert actions["type"] == "actions"
    first, second, link = actions["elements"]
    assert first == {"type": "button", "action_id": "button_0", "value": '/guide_next{"step": 1}',
                     "text": {"type": "plain_text", "text": "完成了，下一步", "emoji": True}}
    assert second["action_id"] == "button_1" and second["value"] == '/guide_failed{"step": 1}'
    assert link["url"] == "https://learn.microsoft.com/x" and "value" not in link
    many = button_blocks("", [{"title": str(i), "payload": f"/p{i}"} for i in range(30)])
    assert [len(b["elements"]) for b in many] == [25, 5]  # Block Kit's 25 per block
    assert len({e["action_id"] for b in many for e in b["elements"]}) == 30


def test_dm_and_mention_are_answered_other_messages_are_not() -> None:
    dm = event_message(slack_event(slack_dm("U1", "打开权益页面提示你无权执行此操作")))
    assert dm is not None and dm.sender == "U1" and dm.thread_ts is None
    assert dm.text == "打开权益页面提示你无权执行此操作"
    mention = event_message(slack_event(slack_mention("U1", "権限エラー &amp; <https://x.example|x>")))
    assert mention is not None
    assert mention.text == "権限エラー & x"  # own mention removed, escapes undone
    assert mention.sender == "C123ABC456~U1"
    in_thread = event_message(slack_event(slack_mention("U1", "まだです", thread_ts="1.000001")))
    assert in_thread is not None and in_thread.thread_ts == "1.000001"
    channel_chatter = slack_dm("U1", "hello", channel="C1")
    channel_chatter["channel_type"] = "channel"
    for event in (
        channel_chatter,
        slack_dm("U1", "edited", subtype="message_changed"),
        slack_dm(SLACK_BOT_USER, "my own reply"),
        slack_dm("U1", "a bot", bot_id="B1"),
        {"type": "reaction_added", "user": "U1"},
        slack_dm("U1", "   "),
    ):
        assert event_message(slack_event(event)) is None, event


def test_button_click() -> None:
    body = slack_block_actions("U1", "D1", {"text": "x", "ts": "2.0", "thread_ts": "1.0"},
                               {"action_id": "button_0", "value": "/affirm",
                                "text": {"type": "plain_text", "text": "はい"}})
    from urllib.parse import parse_qs
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    incoming = action_message(payload)
    assert incoming is not None
    assert (incoming.text, incoming.sender, incoming.thread_ts) == ("/affirm", "U1", "1.0")
    payload["actions"][0].pop("value")  # a link button: nothing to answer
    assert action_message(payload) is None


def test_settings() -> None:
    assert SlackSettings.from_env({}) is None
    assert SlackSettings.from_env({"SLACK_BOT_TOKEN": "x"}) is None
    s = SlackSettings.from_env({"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y",
                                "SLACK_API_URL": "http://127.0.0.1:1/api",
                                "SLACK_ALLOWED_TEAMS": "T1,T2"})
    assert s is not None
    assert s.api_url == "http://127.0.0.1:1/api/" and s.allowed_teams == {"T1", "T2"}
    assert s.redis_url == ""


async def test_memory_dedup_ttl() -> None:
    seen = MemorySeen(ttl_s=0.2)
    assert await seen.first_time("Ev1")
    assert not await seen.first_time("Ev1")
    assert await seen.first_time("Ev2")
    await asyncio.sleep(0.25)
    assert await seen.first_time("Ev1")


async def test_redis_dedup_is_shared(redis_url: str) -> None:
    replica_a, replica_b = RedisSeen(redis_url, 1), RedisSeen(redis_url, 1)
    key = f"Ev{uuid.uuid4().hex}"
    try:
        assert await replica_a.first_time(key)
        assert not await replica_b.first_time(key)
        assert not await replica_a.first_time(key)
        await asyncio.sleep(1.1)  # TTL
        assert await replica_b.first_time(key)
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_redis_down_falls_back_to_memory() -> None:
    seen = RedisSeen("redis://127.0.0.1:9/0", 60)
    assert await seen.first_time("Ev1")
    assert not await seen.first_time("Ev1")
    await seen.close()


async def test_locale_is_read_once_per_user(fake_slack: FakeSlack) -> None:
    fake_slack.locales.update({"UJA": "ja-JP", "UZH": "zh-TW", "UEN": "en-US"})
    cache = LocaleCache(AsyncWebClient(token=SLACK_BOT_TOKEN, base_url=fake_slack.api_url), 60)
    calls = len(fake_slack.users_info_calls)
    assert await cache.language("UJA") == "ja"
    assert await cache.language("UJA") == "ja"
    assert await cache.language("UZH") == "zh"
    assert await cache.language("UEN") is None
    assert await cache.language("UNKNOWN") is None  # users.info error: no hint
    new_calls = fake_slack.users_info_calls[calls:]
    assert [c["user"] for c in new_calls] == ["UJA", "UZH", "UEN", "UNKNOWN"]
    assert all(c["include_locale"] in ("1", "true") for c in new_calls)


# --- the webhook, in-process ------------------------------------------------------------------


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/webhook", data=body, headers=headers) as resp:
        return resp.status, await resp.text()


def encoded(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


async def settle(served: Any, count: int) -> None:
    for _ in range(100):
        if len(served.received) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # and nothing more arrives


def channel_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> SlackChannelInput:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    channel = SlackChannelInput.from_credentials(None)
    assert isinstance(channel, SlackChannelInput)
    return channel


async def test_unconfigured_channel_answers_503(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    async with serve_channel(SlackChannelInput.from_credentials(None)) as served:
        body = encoded(slack_event(slack_dm("U1", "hi")))
        assert (await post(served.url, body, slack_signed(body)))[0] == 503


async def test_malformed_signature_headers_get_401(
        fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the webhook: a refusal (401), never a 500 from an exception."""
    async with serve_channel(channel_from(slack_env(fake_slack), monkeypatch)) as served:
        body = encoded(slack_event(slack_dm("UBAD", "hi")))
        good = slack_signed(body)
        not_utf8 = b'{"type":"event_callback","x":"\xff"}'
        cases = [
            (body, {**good, "X-Slack-Request-Timestamp": "yesterday"}),
            (body, {**good, "X-Slack-Request-Timestamp": "9" * 5000}),
            (body, {**good, "X-Slack-Signature": "v0=\xe9\xe9"}),  # latin-1 on the wire
            (not_utf8, slack_signed(not_utf8)),
        ]
        for raw, headers in cases:
            assert (await post(served.url, raw, headers))[0] == 401, headers
        await settle(served, 0)
        assert served.received == []


async def test_webhook_flow(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_slack.locales["UWEB"] = "zh-CN"
    async with serve_channel(channel_from(slack_env(fake_slack), monkeypatch)) as served:
        # URL verification.
        challenge = encoded({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmH"
                             "kvFXO7tYXAYM8P", "type": "url_verification"})
        assert await post(served.url, challenge, slack_signed(challenge)) == (
            200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        # Bad and stale signatures: refused, nothing reaches Rasa.
        body = encoded(slack_event(slack_dm("UWEB", "你好")))
        for headers in (slack_signed(body, secret="wrong"),
                        slack_signed(body, timestamp=int(time.time()) - 600),
                        {"Content-Type": "application/json"}):
            assert (await post(served.url, body, headers))[0] == 401
        # The same event three times (first delivery, then retries for two reasons): once.
        assert (await post(served.url, body, slack_signed(body)))[0] == 200
        for num, reason in ((1, "http_timeout"), (2, "http_error")):
            status, _ = await post(served.url, body, slack_signed(
                body, **{"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason}))
            assert status == 200
        await settle(served, 1)
        assert len(served.received) == 1
        message = served.received[0]
        assert (message.text, message.sender_id) == ("你好", "UWEB")
        assert message.metadata == {"language": "zh"}
        assert fake_slack.replies("D024BE91L")[-1]["text"] == "echo: 你好"
        # One message delivered as both `message` and `app_mention`: answered once.
        mention = slack_mention("UWEB", "权益", channel="CDOUBLE")
        as_message = dict(mention, type="message", channel_type="channel")
        for event in (mention, as_message):
            raw = encoded(slack_event(event))
            assert (await post(served.url, raw, slack_signed(raw)))[0] == 200
        await settle(served, 2)
        assert len(served.received) == 2
        # Written in a thread: answered in that thread.
        threaded = encoded(slack_event(slack_mention("UWEB", "还是不行", channel="CTHREAD",
                                                     thread_ts="1700000000.000100")))
        assert (await post(served.url, threaded, slack_signed(threaded)))[0] == 200
        await settle(served, 3)
        [reply] = fake_slack.replies("CTHREAD")
        assert reply["thread_ts"] == "1700000000.000100"
        assert served.received[-1].sender_id == "CTHREAD~UWEB"
        # A button click (form-encoded interactivity payload).
        click = slack_block_actions("UWEB", "CTHREAD", {"ts": "1700000000.000200",
                                                        "thread_ts": "1700000000.000100"},
                                    {"action_id": "button_0", "value": "/affirm",
                                     "text": {"type": "plain_text", "text": "是的"}})
        headers = slack_signed(click, content_type="application/x-www-form-urlencoded")
        assert (await post(served.url, click, headers))[0] == 200
        await settle(served, 4)
        assert served.received[-1].text == "/affirm"
        assert served.received[-1].sender_id == "CTHREAD~UWEB"
        # Another workspace: acknowledged (or Slack retries), not answered.
        foreign = encoded(slack_event(slack_dm("UWEB", "hi"), team="T999OTHER"))
        assert (await post(served.url, foreign, slack_signed(foreign)))[0] == 200
        await settle(served, 5)
        assert len(served.received) == 4


async def test_replicas_share_dedup_through_redis(
        fake_slack: FakeSlack, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = slack_env(fake_slack, REDIS_URL=redis_url)
    replica_a, replica_b = channel_from(env, monkeypatch), channel_from(env, monkeypatch)
    body = encoded(slack_event(slack_dm("UREDIS", "hello")))
    async with serve_channel(replica_a) as a, serve_channel(replica_b) as b:
        assert (await post(a.url, body, slack_signed(body)))[0] == 200
        retry = slack_signed(body, **{"X-Slack-Retry-Num": "1",
                                      "X-Slack-Retry-Reason": "http_timeout"})
        assert (await post(b.url, body, retry))[0] == 200
        await settle(a, 1)
        await asyncio.sleep(0.3)
        assert len(a.received) + len(b.received) == 1


def test_output_without_a_channel_uses_the_sender_id() -> None:
    """Rasa's HTTP API (`output_channel=latest`) gives no channel: the sender id has it."""
    from channels.slack import SlackOutput

    output = SlackOutput(AsyncWebClient(token="x"), None, None)
    assert output._channel("C123~U456") == "C123"
    assert output._channel("U456") == "U456"  # a DM: posting to the user id opens it
