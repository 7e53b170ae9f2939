"""Slack channel: Rasa 3.6's Slack connector, fixed for retries, locale and buttons.

Request URL for the Events API and for Interactivity: `https://<host>/webhooks/slack/webhook`.
Configured from environment variables only (channels/settings.py, docs/channels.md); when
they are unset the server still starts and the webhook answers 503.

What differs from the stock `slack` connector (docs/channels.md explains each):
- signature (slack_sdk's `SignatureVerifier`) and timestamp window checked (401 otherwise);
- each `event_id` is answered once whatever the retry reason (the stock one only ignores
  `http_timeout` retries); a message reaching us twice under two event ids (as `message`
  and `app_mention`) is answered once too. In memory by default; in Redis (SET NX EX) when
  REDIS_URL is set, so that replicas share it;
- DMs and app mentions are answered; a message written in a thread is answered there;
- buttons are Block Kit `actions` and their `block_actions` clicks are handled;
- the user's locale (users.info with include_locale, cached) is the language hint, message
  metadata `{"language": "ja"|"zh"}`;
- optional workspace allow-list; the Web API base URL is configurable (tests use a fake).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.handoff import hub
from channels.settings import SlackSettings, language_from_locale
from channels.shapes import json_object, nonempty_str, obj, objs
from channels.webhook import EnvWebhookInput, OnNewMessage

logger = logging.getLogger(__name__)

SENDER_SEPARATOR = "~"  # URL-safe: the sender id works unencoded in Rasa's HTTP API
MAX_BUTTONS_PER_BLOCK = 25  # Block Kit limits
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_SECTION_TEXT = 3000
LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
BOLD = re.compile(r"\*\*(.+?)\*\*")
# Message subtypes that are still a person writing to us.
USER_SUBTYPES = (None, "thread_broadcast", "file_share")
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds, as Slack sends them


# --- pure helpers -----------------------------------------------------------------------


class _At(Clock):
    """The verifier's clock, fixed at one instant (tests pass theirs)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def signature_valid(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                    window_s: float, now: float | None = None) -> bool:
    """Slack's v0 request signature (slack_sdk's `SignatureVerifier`), with the timestamp
    within `window_s` of now (a replay window; the verifier also refuses more than 5 min).

    The verifier raises instead of answering False on input an attacker controls: a
    timestamp `int()` rejects (ValueError), a body that is not UTF-8 (UnicodeDecodeError)
    and a non-ASCII signature (`hmac.compare_digest`'s TypeError). Slack sends none of
    them, so each is refused here before the verifier sees it.
    """
    if not timestamp or not signature or not signature.isascii():
        return False
    # Digits only: int() would also take " 17", "1_7" or non-ASCII digits.
    if not TIMESTAMP.fullmatch(timestamp):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    at = time.time() if now is None else now
    if abs(at - int(timestamp)) > window_s:
        return False  # stale: possibly a replay
    return SignatureVerifier(secret, clock=_At(at)).is_valid(body, timestamp, signature)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(text: str) -> str:
    """Markdown of the domain's responses → Slack mrkdwn: `**b**` → `*b*`, `[t](u)` → `<u|t>`,
    and &, <, > escaped as Slack requires."""
    parts, pos = [], 0
    for match in LINK.finditer(text):
        parts += [_escape(text[pos:match.start()]), f"<{match[2]}|{_escape(match[1])}>"]
        pos = match.end()
    parts.append(_escape(text[pos:]))
    return BOLD.sub(r"*\1*", "".join(parts))


def button_blocks(text: str, buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A section with the text, then the buttons in `actions` blocks; a click posts the
    button's `value` (Rasa's payload) back to the webhook as `block_actions`."""
    blocks: list[dict[str, Any]] = []
    if text.strip():
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": to_mrkdwn(text)[:MAX_SECTION_TEXT]}})
    elements = []
    for i, button in enumerate(buttons):
        payload = str(button.get("payload") or button.get("url") or "")
        title = str(button.get("title") or payload)[:MAX_BUTTON_TEXT]
        element = {"type": "button", "action_id": f"button_{i}",
                   "text": {"type": "plain_text", "text": title, "emoji": True}}
        if payload.startswith(("https://", "http://")):
            element["url"] = payload  # a link button: Slack opens it, we ignore the click
        else:
            element["value"] = payload[:MAX_BUTTON_VALUE]
        elements.append(element)
    for start in range(0, len(elements), MAX_BUTTONS_PER_BLOCK):
        blocks.append({"type": "actions", "block_id": f"buttons_{start}",
                       "elements": elements[start:start + MAX_BUTTONS_PER_BLOCK]})
    return blocks


def is_direct(channel: str, channel_type: str | None = None) -> bool:
    return channel_type == "im" if channel_type else channel.startswith("D")


def sender_key(user: str, channel: str, channel_type: str | None = None) -> str:
    """Rasa sender id: the user in a DM, the channel and the user elsewhere."""
    return user if is_direct(channel, channel_type) else f"{channel}{SENDER_SEPARATOR}{user}"


def clean_text(text: str, bot_user_id: str | None) -> str:
    """Without the bot's own `<@U…>` mention, links unwrapped, Slack's escapes undone."""
    text = SlackInput._sanitize_user_message(text, [bot_user_id] if bot_user_id else [])
    return html.unescape(text).strip()


@dataclass(frozen=True)
class Incoming:
    """A message for Rasa, from an event or from a button click."""

    text: str
    user: str
    channel: str
    thread_ts: str | None  # reply in this thread (None: in the channel / DM)
    sender: str
    dedup_keys: tuple[str, ...]


def _bot_user_id(body: dict[str, Any]) -> str | None:
    authorizations = objs(body.get("authorizations"))
    if authorizations:
        return nonempty_str(authorizations[0].get("user_id"))
    authed = body.get("authed_users")
    return nonempty_str(authed[0]) if isinstance(authed, list) and authed else None


def event_message(body: dict[str, Any]) -> Incoming | None:
    """The message of an Events API `event_callback`, if it is one we answer: a DM to the
    bot, or a mention of it (`app_mention`); never the bot's own or an edit."""
    event = obj(body.get("event"))
    kind, channel_type = event.get("type"), event.get("channel_type")
    user, channel, text = event.get("user"), event.get("channel"), event.get("text")
    bot_user = _bot_user_id(body)
    if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES:
        return None
    if not (kind == "app_mention" or (kind == "message" and channel_type == "im")):
        return None
    if not (isinstance(user, str) and isinstance(channel, str) and isinstance(text, str)):
        return None
    if user == bot_user:
        return None
    cleaned = clean_text(text, bot_user)
    if not cleaned:
        return None
    return Incoming(
        text=cleaned, user=user, channel=channel,
        thread_ts=nonempty_str(event.get("thread_ts")),
        sender=sender_key(user, channel, channel_type),
        dedup_keys=(f"event:{body.get('event_id')}", f"msg:{channel}:{event.get('ts')}"),
    )


def action_message(payload: dict[str, Any]) -> Incoming | None:
    """The payload of a clicked Block Kit button (`block_actions`), as a message."""
    actions = objs(payload.get("actions"))
    if payload.get("type") != "block_actions" or not actions:
        return None
    action = actions[0]
    # Only buttons are ever sent (button_blocks); other elements have no value for Rasa.
    value = nonempty_str(action.get("value")) if action.get("type") == "button" else None
    user = obj(payload.get("user")).get("id")
    container = obj(payload.get("container"))
    channel = obj(payload.get("channel")).get("id") or container.get("channel_id")
    if not (value and isinstance(user, str) and isinstance(channel, str)):
        return None  # e.g. a link button, which has no value
    message = obj(payload.get("message"))
    return Incoming(
        text=value, user=user, channel=channel,
        thread_ts=(nonempty_str(message.get("thread_ts"))
                   or nonempty_str(container.get("thread_ts"))),
        sender=sender_key(user, channel),
        dedup_keys=(f"action:{user}:{action.get('action_ts')}:{action.get('action_id')}",),
    )


def team_of(body: dict[str, Any]) -> str | None:
    return (nonempty_str(body.get("team_id")) or nonempty_str(obj(body.get("team")).get("id"))
            or nonempty_str(obj(body.get("user")).get("team_id")))


# --- de-duplication ---------------------------------------------------------------------


class SeenStore(Protocol):
    async def first_time(self, key: str) -> bool:
        """True the first time `key` is seen within the TTL (and records it)."""
        ...


class MemorySeen:
    """In-process TTL set: enough for one replica."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._expiry: dict[str, float] = {}

    async def first_time(self, key: str) -> bool:
        now = time.monotonic()
        if len(self._expiry) > 10_000:
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        if self._expiry.get(key, 0.0) > now:
            return False
        self._expiry[key] = now + self.ttl_s
        return True


class RedisSeen:
    """TTL set in Redis (atomic SET NX EX), shared by every replica. If Redis cannot be
    reached, falls back to this replica's memory rather than dropping the message."""

    PREFIX = "mpn-support-bot:slack:seen:"

    def __init__(self, url: str, ttl_s: float) -> None:
        import redis.asyncio  # rasa depends on redis (its lock store)

        self._redis = redis.asyncio.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.ttl_s = ttl_s
        self._fallback = MemorySeen(ttl_s)

    async def first_time(self, key: str) -> bool:
        import redis.exceptions

        try:
            added = await self._redis.set(self.PREFIX + key, "1", nx=True,
                                          ex=max(1, int(self.ttl_s)))
            return bool(added)
        except (redis.exceptions.RedisError, OSError) as e:
            logger.warning("Redis unavailable for Slack de-duplication: %r", e)
            return await self._fallback.first_time(key)

    async def close(self) -> None:
        await self._redis.close()


# --- locale -----------------------------------------------------------------------------


class LocaleCache:
    """The user's Slack locale (users.info include_locale) as a language hint, cached."""

    FAILURE_TTL_S = 60.0

    def __init__(self, client: AsyncWebClient, ttl_s: float) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def language(self, user: str) -> str | None:
        now = time.monotonic()
        hit = self._cache.get(user)
        if hit and hit[0] > now:
            return hit[1]
        try:
            info = await self.client.users_info(user=user, include_locale=True)
            language, ttl = language_from_locale((info.get("user") or {}).get("locale")), self.ttl_s
        except (SlackApiError, SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as e:
            logger.warning("users.info failed for %s: %r", user, e)
            language, ttl = None, self.FAILURE_TTL_S
        self._cache[user] = (now + ttl, language)
        return language


# --- Rasa channel classes ---------------------------------------------------------------


class SlackOutput(SlackBot):
    """Replies in the channel or DM, in the user's thread when they wrote in one."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    def __init__(self, client: AsyncWebClient, channel: str | None,
                 thread_ts: str | None) -> None:
        # The stock __init__ builds a client for slack.com; ours is shared and configurable.
        self.client = client
        self.slack_channel = channel
        self.thread_id = thread_ts
        self.proxy = None

    def _channel(self, recipient_id: str) -> str:
        """The reply's channel; without one (Rasa's HTTP API `output_channel=latest`), the
        channel in the sender id, or the user's DM for a bare user id."""
        return self.slack_channel or recipient_id.split(SENDER_SEPARATOR)[0]

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        kwargs.pop("as_user", None)  # legacy; refused for granular bot tokens
        kwargs.pop("type", None)
        if self.thread_id:
            kwargs["thread_ts"] = self.thread_id
        try:
            await self.client.chat_postMessage(channel=channel, **kwargs)
        except (SlackApiError, SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as e:
            logger.error("Slack reply to %s failed: %r", channel, e)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._post_message(self._channel(recipient_id), text=to_mrkdwn(text))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._post_message(self._channel(recipient_id),
                                 text=to_mrkdwn(text),  # for notifications
                                 blocks=button_blocks(text, buttons))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A `{"slack": {...chat.postMessage args...}}` custom response, or one that is
        itself a message; other custom payloads (e.g. hand-off data) are not shown."""
        slack = json_message.get("slack")
        if isinstance(slack, dict):
            message = dict(slack)
        elif {"text", "blocks", "attachments"} & json_message.keys():
            message = dict(json_message)
        else:
            logger.debug("Custom payload not meant for Slack: %s", sorted(json_message))
            return
        await self._post_message(str(message.pop("channel", self._channel(recipient_id))),
                                 **message)


class SlackChannelInput(EnvWebhookInput[SlackSettings]):
    """Slack webhook (`/webhooks/slack/webhook`), configured from the environment."""

    title = "Slack"
    required_env = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def settings_from_env(cls) -> SlackSettings | None:
        return SlackSettings.from_env()

    def __init__(self, settings: SlackSettings | None) -> None:
        super().__init__(settings)
        if settings is None:
            return
        self.client = AsyncWebClient(
            token=settings.bot_token, base_url=settings.api_url,
            timeout=max(1, int(settings.http_timeout_s)),
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        self.locales = LocaleCache(self.client, settings.locale_cache_s)
        self.seen: SeenStore = (RedisSeen(settings.redis_url, settings.dedup_ttl_s)
                                if settings.redis_url else MemorySeen(settings.dedup_ttl_s))
        self.handoff = hub()
        if self.handoff is not None:  # the staff channel is in this Slack app's workspace
            client = self.client
            self.handoff.slack = client
            self.handoff.outputs["slack"] = lambda ref: SlackOutput(client, ref.get("channel"),
                                                                    ref.get("thread_ts"))

    def get_output_channel(self, channel: str | None = None,
                           thread_id: str | None = None) -> OutputChannel | None:
        """Used by Rasa's HTTP API to reach a conversation outside a webhook call."""
        return SlackOutput(self.client, channel, thread_id) if self.settings else None

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        assert self.settings is not None
        return signature_valid(
            self.settings.signing_secret, request.body,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.headers.get("X-Slack-Signature"), self.settings.timestamp_window_s)

    def team_allowed(self, body: dict[str, Any]) -> bool:
        assert self.settings is not None
        allowed = self.settings.allowed_teams
        return not allowed or team_of(body) in allowed

    async def first_time(self, incoming: Incoming) -> bool:
        # Every key is recorded, so that a later delivery under any of them is a duplicate.
        fresh = [await self.seen.first_time(key) for key in incoming.dedup_keys]
        return all(fresh)

    async def _answer(self, on_new_message: OnNewMessage, incoming: Incoming) -> None:
        language = await self.locales.language(incoming.user)
        await on_new_message(UserMessage(
            text=incoming.text,
            output_channel=SlackOutput(self.client, incoming.channel, incoming.thread_ts),
            sender_id=incoming.sender, input_channel=self.name(),
            metadata={"language": language} if language else {},
        ))

    def _parse(self, request: Request) -> tuple[dict[str, Any] | None, Incoming | None]:
        """(body, message to answer) of an Events API or interactivity request."""
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
        if content_type == "application/json":
            body = json_object(request.body)
            if body is None:
                return None, None
            return body, event_message(body) if body.get("type") == "event_callback" else None
        if content_type == "application/x-www-form-urlencoded":
            body = json_object(request.form.get("payload"))
            return (body, action_message(body)) if body is not None else (None, None)
        return None, None

    async def handle(self, request: Request, settings: SlackSettings,
                     on_new_message: OnNewMessage) -> HTTPResponse:
        if not self.is_request_from_slack_authentic(request):
            logger.warning("Slack request with a bad or stale signature refused")
            return response.text("invalid signature", status=HTTPStatus.UNAUTHORIZED)
        body, incoming = self._parse(request)
        if body is None:
            return response.text("unsupported request", status=HTTPStatus.BAD_REQUEST)
        if body.get("type") == "url_verification":
            return response.text(str(body.get("challenge", "")))
        if self.handoff is not None and self.team_allowed(body):
            # The staff channel: "take it" clicks and thread replies (channels/handoff.py).
            dedup = f"event:{body.get('event_id')}" if body.get("event_id") else None
            if dedup is None or await self.seen.first_time(f"staff:{dedup}"):
                if await self.handoff.staff_event(body):
                    return response.text("")
            elif self.handoff.settings.slack_channel == obj(body.get("event")).get("channel"):
                return response.text("", headers={"X-Slack-No-Retry": "1"})
        if incoming is None:
            return response.text("")  # not a message we answer: acknowledged
        if not self.team_allowed(body):
            logger.warning("Slack request from a workspace not allowed: %s", team_of(body))
            return response.text("")  # a 2xx, or Slack would retry it
        if not await self.first_time(incoming):
            logger.info("Slack delivery already answered (retry #%s, %s): %s",
                        request.headers.get("X-Slack-Retry-Num"),
                        request.headers.get("X-Slack-Retry-Reason"), incoming.dedup_keys)
            return response.text("", headers={"X-Slack-No-Retry": "1"})
        # Slack wants an answer within 3 s: Rasa runs in the background.
        self.in_background(self._answer(on_new_message, incoming),
                           f"Slack message from {incoming.sender}")
        return response.text("")

    async def close(self) -> None:
        if isinstance(self.seen, RedisSeen):
            await self.seen.close()
