"""Teams channel in-process: pure pieces, token validation, replies, webhook (no model)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from channels.settings import TeamsSettings, language_from_locale
from channels.teams import (
    AuthError,
    Connector,
    Http,
    SigningKeys,
    TeamsInput,
    TokenValidator,
    hero_card,
    incoming_text,
    message_metadata,
    retry_delay,
    sender_key,
    strip_mentions,
    teams_markdown,
)
from tests.channels.conftest import serve_channel, teams_env
from tests.channels.fakes import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    TENANT,
    FakeBotFramework,
    bad_tokens,
    conversation_update,
    group_chat,
    mention_entity,
    new_rsa_key,
    team_channel,
    teams_activity,
)

# --- pure pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize("locale, language", [
    ("ja-JP", "ja"), ("ja", "ja"), ("JA_jp", "ja"), ("zh-CN", "zh"), ("zh-TW", "zh"),
    ("zh-HK", "zh"), ("zh-Hans-CN", "zh"), ("zh", "zh"), ("en-US", None), ("ko-KR", None),
    ("", None), (None, None), ("jav-ID", None),
])
def test_locale_to_language(locale: str | None, language: str | None) -> None:
    assert language_from_locale(locale) == language


def test_metadata_carries_the_language_hint() -> None:
    assert message_metadata(teams_activity("s", "x", locale="zh-TW"))["language"] == "zh"
    assert message_metadata(teams_activity("s", "x", locale="ja-JP"))["language"] == "ja"
    assert "language" not in message_metadata(teams_activity("s", "x", locale="en-US"))
    # No `locale` at the root: Teams' clientInfo entity gives it.
    activity = teams_activity("s", "x", locale=None)
    activity["entities"][0]["locale"] = "zh-CN"
    assert message_metadata(activity)["language"] == "zh"


def test_personal_chat_is_answered_and_keyed_by_user() -> None:
    activity = teams_activity("s", " パートナーセンター ", user="29:abc")
    assert incoming_text(activity) == "パートナーセンター"
    assert sender_key(activity) == "29:abc"


def test_group_chat_needs_a_mention_and_is_keyed_by_chat_and_user() -> None:
    chat = group_chat("g1")
    plain = teams_activity("s", "你好", conversation=chat, user="29:u1")
    assert incoming_text(plain) is None  # not for the bot
    mentioned = teams_activity(
        "s", f"<at>{BOT_NAME}</at> 打开权益页面提示你无权执行此操作", conversation=chat,
        user="29:u1")
    mentioned["entities"].append(mention_entity())
    assert incoming_text(mentioned) == "打开权益页面提示你无权执行此操作"
    assert sender_key(mentioned) == "19:g1@thread.v2~29:u1"
    other_user = dict(mentioned, **{"from": {"id": "29:u2"}})
    assert sender_key(other_user) == "19:g1@thread.v2~29:u2"


def test_mention_stripping_keeps_other_peoples_names() -> None:
    activity = teams_activity(
        "s", f"<at>{BOT_NAME}</at>&nbsp;<at>Tanaka Taro</at>さんが権限エラーです\n",
        conversation=team_channel())
    activity["entities"] += [mention_entity(), {
        "mentioned": {"id": "29:tanaka", "name": "Tanaka Taro"},
        "text": "<at>Tanaka Taro</at>", "type": "mention"}]
    assert strip_mentions(activity) == "Tanaka Taroさんが権限エラーです"


def test_a_mention_of_someone_else_is_not_for_the_bot() -> None:
    activity = teams_activity("s", "<at>Tanaka</at> hi", conversation=group_chat())
    activity["entities"].append({"mentioned": {"id": "29:tanaka", "name": "Tanaka"},
                                 "text": "<at>Tanaka</at>", "type": "mention"})
    assert incoming_text(activity) is None


def test_button_click_is_answered_in_groups_without_mention() -> None:
    payload = '/guide_next{"step": 1}'
    click = teams_activity("s", payload, conversation=group_chat(),
                           value={"payload": payload})
    assert incoming_text(click) == payload
    # An Adaptive Card Action.Submit with data {"payload": ...}: no text at all.
    submit = teams_activity("s", "", value={"payload": "/affirm"})
    assert incoming_text(submit) == "/affirm"


def test_bot_added_greets_other_updates_do_not() -> None:
    assert incoming_text(conversation_update("s", locale="ja-JP")) == "/greet"
    someone = conversation_update("s", locale="ja-JP")
    someone["membersAdded"] = [{"id": "29:someone-else"}]
    assert incoming_text(someone) is None
    assert incoming_text(teams_activity("s", kind="typing")) is None


def test_hero_card_buttons_are_clickable() -> None:
    card = hero_card("手順 1", [{"title": "できました", "payload": '/guide_next{"step": 1}'},
                               {"title": "記事", "payload": "https://learn.microsoft.com/x"}])
    assert card["contentType"] == "application/vnd.microsoft.card.hero"
    assert card["content"]["text"] == "手順 1"
    assert hero_card("**手順 1/3**\n<アカウント> & 確認", [])["content"]["text"] == (
        "<b>手順 1/3</b><br>&lt;アカウント&gt; &amp; 確認")
    done, link = card["content"]["buttons"]
    assert done == {"type": "messageBack", "title": "できました", "displayText": "できました",
                    "text": '/guide_next{"step": 1}',
                    "value": {"payload": '/guide_next{"step": 1}'}}
    assert link == {"type": "openUrl", "title": "記事", "value": "https://learn.microsoft.com/x"}


def test_text_newlines_survive_teams_markdown() -> None:
    assert teams_markdown("一行目\n二行目\n\n段落\r\n") == "一行目\n\n二行目\n\n段落"


def test_retry_delay() -> None:
    assert retry_delay("3", 0) == 3
    assert retry_delay(None, 0) == 1 and retry_delay(None, 2) == 4
    assert retry_delay("3600", 0) == 30  # capped
    assert retry_delay("Wed, 21 Oct 2015 07:28:00 GMT", 1) == 0  # a date in the past
    assert retry_delay("garbage", 1) == 2


def test_settings() -> None:
    assert TeamsSettings.from_env({}) is None
    assert TeamsSettings.from_env({"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": " "}) is None
    multi = TeamsSettings.from_env({"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "p"})
    assert multi is not None
    assert multi.token_url == "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    assert multi.openid_url == ("https://login.botframework.com/v1/.well-known/"
                                "openidconfiguration")
    assert multi.issuers == ("https://api.botframework.com",)
    single = TeamsSettings.from_env({"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "p",
                                     "TEAMS_TENANT_ID": TENANT,
                                     "TEAMS_ALLOWED_TENANTS": f"{TENANT}, other"})
    assert single is not None
    assert single.token_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert single.allowed_tenants == {TENANT, "other"}
    china = TeamsSettings.from_env({
        "TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "p",
        "TEAMS_TOKEN_URL": "https://login.partner.microsoftonline.cn/{tenant}/oauth2/v2.0/token",
        "TEAMS_TOKEN_SCOPE": "https://api.botframework.azure.cn/.default",
        "TEAMS_OPENID_URL": "https://login.botframework.azure.cn/v1/.well-known/"
                            "openidconfiguration",
        "TEAMS_ISSUERS": "https://api.botframework.azure.cn"})
    assert china is not None
    assert china.token_url.startswith("https://login.partner.microsoftonline.cn/botframework")
    assert china.issuers == ("https://api.botframework.azure.cn",)


# --- token validation against the fake's keys -------------------------------------------------


def settings_for(fake: FakeBotFramework, **overrides: str) -> TeamsSettings:
    settings = TeamsSettings.from_env(teams_env(fake, **overrides))
    assert settings is not None
    return settings


def validator_for(fake: FakeBotFramework, **overrides: str) -> tuple[TokenValidator, Http]:
    settings = settings_for(fake, **overrides)
    http = Http(settings.http_timeout_s)
    return TokenValidator(settings, SigningKeys(settings, http)), http


async def test_valid_token_and_lazily_cached_keys(fake_bf: FakeBotFramework) -> None:
    fetches = fake_bf.jwks_fetches
    validator, http = validator_for(fake_bf)
    assert fake_bf.jwks_fetches == fetches  # nothing fetched at construction
    activity = teams_activity(fake_bf.service_url, "hi")
    try:
        for _ in range(3):
            claims = await validator.validate(f"Bearer {fake_bf.token()}", activity)
            assert claims["aud"] == APP_ID
        assert fake_bf.jwks_fetches == fetches + 1  # fetched once, then cached
    finally:
        await http.close()


async def test_invalid_tokens_are_refused(fake_bf: FakeBotFramework) -> None:
    validator, http = validator_for(fake_bf)
    activity = teams_activity(fake_bf.service_url, "hi")
    try:
        for name, token in bad_tokens(fake_bf).items():
            with pytest.raises(AuthError):
                await validator.validate(f"Bearer {token}", activity)
                pytest.fail(f"{name} token accepted")
        for header in (None, "", "Basic abc", fake_bf.token()):
            with pytest.raises(AuthError):
                await validator.validate(header, activity)
        # A key not endorsed for the activity's channel.
        with pytest.raises(AuthError, match="endorsed"):
            await validator.validate(f"Bearer {fake_bf.token()}",
                                     dict(activity, channelId="directline"))
        # The right token for another serviceUrl than the activity's.
        with pytest.raises(AuthError, match="serviceurl"):
            await validator.validate(f"Bearer {fake_bf.token()}",
                                     dict(activity, serviceUrl="https://evil.example/"))
    finally:
        await http.close()


async def test_new_signing_key_is_picked_up_and_refreshes_are_rate_limited() -> None:
    fake = FakeBotFramework().start()
    try:
        validator, http = validator_for(fake, TEAMS_KEYS_MIN_REFRESH_SECONDS="3600")
        activity = teams_activity(fake.service_url, "hi")
        await validator.validate(f"Bearer {fake.token()}", activity)
        assert fake.jwks_fetches == 1
        # Microsoft rotates keys. A never-seen kid triggers a refetch only when the last
        # fetch is older than the minimum interval; it was just now, so this one fails...
        fake.rotate_key()
        with pytest.raises(AuthError, match="unknown signing key"):
            await validator.validate(f"Bearer {fake.token()}", activity)
        assert fake.jwks_fetches == 1  # rate-limited: forged kids cannot hammer Microsoft
        # ...and once the interval has passed, the new key is fetched and accepted.
        validator.keys.fetched_at -= 3600
        await validator.validate(f"Bearer {fake.token()}", activity)
        assert fake.jwks_fetches == 2
        for _ in range(3):
            with pytest.raises(AuthError):
                await validator.validate(f"Bearer {fake.token(kid='forged', key=new_rsa_key())}",
                                         activity)
        assert fake.jwks_fetches == 2
        await http.close()
    finally:
        fake.stop()


async def test_keys_unreachable_means_refused_not_crashed() -> None:
    settings = TeamsSettings.from_env({
        "TEAMS_APP_ID": APP_ID, "TEAMS_APP_PASSWORD": "p",
        "TEAMS_OPENID_URL": "http://127.0.0.1:9/nothing", "TEAMS_HTTP_TIMEOUT_SECONDS": "2"})
    assert settings is not None
    http = Http(2)
    validator = TokenValidator(settings, SigningKeys(settings, http))
    fake = FakeBotFramework()  # not started: only its token maker is used
    with pytest.raises(AuthError):
        await validator.validate(f"Bearer {fake.token()}", teams_activity("s", "hi"))
    await http.close()


# --- replies ----------------------------------------------------------------------------------


async def test_single_tenant_token_cached_and_retry_after_honoured(
        fake_bf: FakeBotFramework) -> None:
    settings = settings_for(fake_bf)
    http = Http(5)
    connector = Connector(settings, http)
    conversation = f"a:retry-{time.time()}"
    fake_bf.throttle[conversation] = [429, 429]
    requests_before = len(fake_bf.token_requests)
    try:
        started = time.monotonic()
        assert await connector.post_activity(fake_bf.service_url, conversation,
                                             {"type": "message", "text": "一"})
        assert await connector.post_activity(fake_bf.service_url, conversation,
                                             {"type": "message", "text": "二"})
    finally:
        await http.close()
    attempts = [a for a in fake_bf.attempts if a[0] == conversation]
    assert [status for _, status, _ in attempts] == [429, 429, 200, 200]
    assert attempts[1][2] - attempts[0][2] >= 0.95  # Retry-After: 1
    assert attempts[2][2] - attempts[1][2] >= 0.95
    assert time.monotonic() - started < 10
    assert [a["text"] for a in fake_bf.replies(conversation)] == ["一", "二"]
    new_requests = fake_bf.token_requests[requests_before:]
    assert len(new_requests) == 1  # the app token is reused
    tenant, form = new_requests[0]
    assert tenant == TENANT  # single-tenant token endpoint
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "https://api.botframework.com/.default"


async def test_retries_are_bounded(fake_bf: FakeBotFramework) -> None:
    settings = settings_for(fake_bf, TEAMS_MAX_RETRIES="2")
    http = Http(5)
    conversation = f"a:throttled-{time.time()}"
    fake_bf.throttle[conversation] = [429] * 10
    fake_bf.retry_after = "0"
    try:
        delivered = await Connector(settings, http).post_activity(
            fake_bf.service_url, conversation, {"type": "message", "text": "x"})
    finally:
        fake_bf.retry_after = "1"
        await http.close()
    assert not delivered
    assert len([a for a in fake_bf.attempts if a[0] == conversation]) == 3


async def test_replies_do_not_block_the_event_loop(fake_bf: FakeBotFramework) -> None:
    """While a reply waits out a Retry-After, other coroutines keep running."""
    settings = settings_for(fake_bf)
    http = Http(5)
    conversation = f"a:nonblocking-{time.time()}"
    fake_bf.throttle[conversation] = [429]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await Connector(settings, http).post_activity(fake_bf.service_url, conversation,
                                                      {"type": "message", "text": "x"})
    finally:
        task.cancel()
        await http.close()
    assert ticks >= 10


# --- the webhook, in-process ------------------------------------------------------------------


async def post(url: str, activity: dict[str, Any], token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/webhook", json=activity, headers=headers) as resp:
        return resp.status


async def test_unconfigured_channel_answers_503() -> None:
    channel = TeamsInput.from_credentials(None)
    async with serve_channel(channel) as served, aiohttp.ClientSession() as session:
        async with session.post(f"{served.url}/webhook", json={}) as resp:
            assert resp.status == 503
        async with session.get(f"{served.url}/") as resp:
            assert resp.status == 503


async def test_webhook_flow(fake_bf: FakeBotFramework, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in teams_env(fake_bf).items():
        monkeypatch.setenv(name, value)
    channel = TeamsInput.from_credentials(None)
    async with serve_channel(channel) as served:
        # A personal message: answered, metadata has the language hint, reply delivered.
        hello = teams_activity(fake_bf.service_url, "こんにちは", locale="ja-JP")
        assert await post(served.url, hello, fake_bf.token()) == 200
        conversation = hello["conversation"]["id"]
        for _ in range(100):
            if fake_bf.replies(conversation):
                break
            await asyncio.sleep(0.05)
        [reply] = fake_bf.replies(conversation)
        assert reply["text"] == "echo: こんにちは"
        assert reply["recipient"]["id"] == hello["from"]["id"]
        assert reply["from"]["id"] == BOT_ID
        assert served.received[-1].metadata["language"] == "ja"
        assert served.received[-1].input_channel == "teams"
        # Bad tokens: 401 and nothing reaches Rasa.
        count = len(served.received)
        for token in list(bad_tokens(fake_bf).values()) + [None]:
            assert await post(served.url, teams_activity(fake_bf.service_url, "x"), token) == 401
        # Another tenant: refused.
        foreign = teams_activity(fake_bf.service_url, "x")
        foreign["conversation"]["tenantId"] = "another-tenant"
        foreign["channelData"]["tenant"]["id"] = "another-tenant"
        assert await post(served.url, foreign, fake_bf.token()) == 403
        # Not mentioned in a group: acknowledged, not answered.
        assert await post(served.url, teams_activity(fake_bf.service_url, "雑談",
                                                     conversation=group_chat()),
                          fake_bf.token()) == 200
        await asyncio.sleep(0.3)
        assert len(served.received) == count
