"""Microsoft Teams channel: Rasa 3.6's Bot Framework connector, fixed for Teams.

Messaging endpoint of the Azure Bot: `https://<host>/webhooks/teams/webhook`.
Configured from environment variables only (channels/settings.py, docs/channels.md); when
they are unset the server still starts and the webhook answers 503.

What differs from the stock `botframework` connector (docs/channels.md explains each):
- incoming tokens: RS256 only; signature, audience (app id), issuer, expiry, the key's
  channel endorsement and the `serviceurl` claim (== the activity's serviceUrl, where our
  replies and our app token go) are checked; Microsoft's OpenID keys are fetched on first
  use, cached, and refetched when a token names an unknown `kid` (rate-limited);
- the activity's `locale` becomes the language hint, message metadata `{"language": ...}`;
- buttons are hero-card `messageBack` actions: Teams shows the title, sends the payload;
- group chats and channels: answered only when the bot is @mentioned, `<at>…</at>` removed,
  one Rasa conversation per chat and user (sender id `<conversation id>~<user id>`);
- `conversationUpdate` adding the bot runs `/greet` through Rasa (the domain's welcome);
- replies are posted with aiohttp (never blocking the event loop), with timeouts, bounded
  retries honouring `Retry-After` on 429, single- or multi-tenant app tokens;
- optional tenant allow-list.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import time
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from rasa.core.channels.botframework import BotFramework
from rasa.core.channels.channel import UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from yarl import URL

from channels.handoff import hub
from channels.settings import TeamsSettings, language_from_locale
from channels.shapes import json_object, nonempty_str, obj, objs
from channels.webhook import EnvWebhookInput, OnNewMessage

logger = logging.getLogger(__name__)

CLOCK_SKEW_S = 300  # the allowance Microsoft's SDKs use for exp/nbf
MAX_RETRY_AFTER_S = 30.0  # never sleep longer than this for one Retry-After
GROUP_CONVERSATIONS = ("groupChat", "channel")
SENDER_SEPARATOR = "~"  # URL-safe: the sender id works unencoded in Rasa's HTTP API
GREET = "/greet"
BEARER = re.compile(r"Bearer\s+(\S+)", re.IGNORECASE)
AT_TAG = re.compile(r"<at(?:\s[^>]*)?>(.*?)</at>", re.IGNORECASE | re.DOTALL)


class AuthError(Exception):
    """An incoming request whose token is not a valid Bot Connector token for us."""


class ConnectorError(Exception):
    """The Bot Connector or its token endpoint could not be used."""


# --- pure helpers -----------------------------------------------------------------------


def activity_locale(activity: dict[str, Any]) -> str | None:
    """The activity's locale, else the Teams `clientInfo` entity's."""
    if isinstance(activity.get("locale"), str):
        return activity["locale"]
    for entity in objs(activity.get("entities")):
        if entity.get("type") == "clientInfo" and isinstance(entity.get("locale"), str):
            return entity["locale"]
    return None


def message_metadata(activity: dict[str, Any]) -> dict[str, Any]:
    """Metadata for Rasa: the language hint (only when the locale gives one) and the locale."""
    locale = activity_locale(activity)
    metadata: dict[str, Any] = {"locale": locale} if locale else {}
    language = language_from_locale(locale)
    if language:
        metadata["language"] = language
    return metadata


def is_group(activity: dict[str, Any]) -> bool:
    conversation = obj(activity.get("conversation"))
    return (
        conversation.get("conversationType") in GROUP_CONVERSATIONS
        or conversation.get("isGroup") is True
    )


def sender_key(activity: dict[str, Any]) -> str:
    """Rasa sender id: the user in a personal chat, the chat and the user in groups.

    In a channel, Teams gives each thread its own conversation id (`…;messageid=…`), so a
    thread is a conversation of its own.
    """
    user_id = str(obj(activity.get("from")).get("id", ""))
    if is_group(activity):
        return f"{obj(activity.get('conversation')).get('id', '')}{SENDER_SEPARATOR}{user_id}"
    return user_id


def _is_bot(mentioned: dict[str, Any], bot_id: str) -> bool:
    return bool(bot_id) and mentioned.get("id") == bot_id


def _mentions(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in objs(activity.get("entities")) if e.get("type") == "mention"]


def mentions_bot(activity: dict[str, Any]) -> bool:
    bot_id = str(obj(activity.get("recipient")).get("id", ""))
    return any(_is_bot(obj(e.get("mentioned")), bot_id) for e in _mentions(activity))


def strip_mentions(activity: dict[str, Any]) -> str:
    """The message text without the bot's `<at>…</at>`; other mentions keep their name."""
    message = nonempty_str(activity.get("text")) or ""
    bot_id = str(obj(activity.get("recipient")).get("id", ""))
    for entity in _mentions(activity):
        tag = nonempty_str(entity.get("text"))
        if tag and _is_bot(obj(entity.get("mentioned")), bot_id):
            message = message.replace(tag, " ")
    message = AT_TAG.sub(lambda m: m.group(1), message)  # someone else's mention: keep the name
    message = message.replace("&nbsp;", " ").replace("\xa0", " ")
    return re.sub(r"[ \t]+", " ", message).strip()


def button_payload(activity: dict[str, Any]) -> str | None:
    """The payload of a clicked button: our messageBack `value`, or an Adaptive Card
    Action.Submit whose `data` is `{"payload": ...}`."""
    value = activity.get("value")
    payload = value.get("payload") if isinstance(value, dict) else None
    return payload if isinstance(payload, str) and payload.strip() else None


def incoming_text(activity: dict[str, Any]) -> str | None:
    """What Rasa should receive for this activity, or None to answer nothing."""
    kind = activity.get("type")
    if kind == "conversationUpdate":
        bot_id = obj(activity.get("recipient")).get("id")
        added = objs(activity.get("membersAdded"))
        return GREET if bot_id and any(m.get("id") == bot_id for m in added) else None
    if kind != "message":
        return None
    payload = button_payload(activity)
    if payload:
        return payload  # a click: Teams sends no mention with it, even in groups
    if is_group(activity) and not mentions_bot(activity):
        return None
    return strip_mentions(activity) or None


def teams_markdown(text: str) -> str:
    """Teams' markdown ignores a single newline: make each one a paragraph break."""
    return re.sub(r"(?<!\n)\n(?!\n)", "\n\n", text.replace("\r\n", "\n").strip())


def card_text(text: str) -> str:
    """Hero card text takes an HTML subset, not markdown: escaped, `<br>` for newlines,
    `**bold**` as `<b>`."""
    escaped = html.escape(text.replace("\r\n", "\n").strip(), quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped).replace("\n", "<br>")


def hero_card(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """A hero card whose buttons Teams can click: `messageBack` shows the title in the chat
    and sends the payload (text and value); URL payloads open the page."""
    actions: list[dict[str, Any]] = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "")
        payload = str(button.get("payload") or button.get("url") or "")
        if payload.startswith(("https://", "http://")):
            actions.append({"type": "openUrl", "title": title, "value": payload})
        else:
            actions.append({"type": "messageBack", "title": title, "displayText": title,
                            "text": payload, "value": {"payload": payload}})
    return {"contentType": "application/vnd.microsoft.card.hero",
            "content": {"text": card_text(text), "buttons": actions}}


def retry_delay(retry_after: str | None, attempt: int) -> float:
    """Seconds to wait: the Retry-After header (seconds or HTTP date), else 1, 2, 4 s…"""
    delay = float(2**attempt)
    if retry_after:
        try:
            delay = float(retry_after)
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                delay = parsedate_to_datetime(retry_after).timestamp() - time.time()
    return min(max(delay, 0.0), MAX_RETRY_AFTER_S)


# --- HTTP: keys, tokens, replies --------------------------------------------------------


class Http:
    """One aiohttp session, created in the running loop on first use, timeouts on every call."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def get_json(self, url: str) -> Any:
        async with self.session().get(url) as resp:
            resp.raise_for_status()
            return await resp.json(content_type=None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SigningKeys:
    """Bot Framework's signing keys (JWKS named by the OpenID configuration).

    Fetched on first use (never at start-up), cached, refetched lazily after
    `keys_max_age_s`, and when a token names an unknown `kid` (Microsoft rotates keys), at
    most once per `keys_min_refresh_s` so that forged kids cannot make us hammer the server.
    """

    def __init__(self, settings: TeamsSettings, http: Http) -> None:
        self.settings = settings
        self.http = http
        self.keys: dict[str, dict[str, Any]] = {}
        self.fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    def _due(self, kid: str) -> bool:
        age = time.monotonic() - self.fetched_at
        return age > self.settings.keys_max_age_s or (
            kid not in self.keys and age >= self.settings.keys_min_refresh_s
        )

    async def get(self, kid: str) -> dict[str, Any] | None:
        if self._due(kid):
            async with self._lock:
                if self._due(kid):  # not refreshed meanwhile by a concurrent request
                    await self._refresh()
        return self.keys.get(kid)

    async def _refresh(self) -> None:
        try:
            config = await self.http.get_json(self.settings.openid_url)
            jwks = await self.http.get_json(config["jwks_uri"])
            self.keys = {k["kid"]: k for k in jwks["keys"] if isinstance(k.get("kid"), str)}
            logger.debug("Bot Framework signing keys: %s", sorted(self.keys))
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError, ValueError) as e:
            logger.warning("Could not fetch Bot Framework signing keys: %r", e)
        finally:
            self.fetched_at = time.monotonic()  # failures are rate-limited too


class TokenValidator:
    """Checks the `Authorization` header of a request from the Bot Connector.

    Hand-written on PyJWT because no library fits: Rasa's `BotFrameworkInput` fetches
    the keys with blocking `requests` and raises on an unknown key id, and so does the
    Bot Framework SDK's key refresh (botframework-connector, not a dependency).
    """

    def __init__(self, settings: TeamsSettings, keys: SigningKeys) -> None:
        self.settings = settings
        self.keys = keys

    async def validate(self, authorization: str | None, activity: dict[str, Any]) -> dict:
        match = BEARER.fullmatch((authorization or "").strip())
        if not match:
            raise AuthError("no bearer token")
        token = match.group(1)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise AuthError(f"malformed token: {e}") from e
        # The algorithm is ours to choose, never the token's ("none", HS256 with the public
        # key as secret…).
        if header.get("alg") != "RS256":
            raise AuthError(f"algorithm {header.get('alg')!r} refused")
        kid = header.get("kid")
        key = await self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise AuthError(f"unknown signing key {kid!r}")
        endorsements = key.get("endorsements")
        if isinstance(endorsements, list) and activity.get("channelId") not in endorsements:
            raise AuthError(f"key not endorsed for channel {activity.get('channelId')!r}")
        try:
            public_key = RSAAlgorithm.from_jwk(key)
            if not isinstance(public_key, RSAPublicKey):  # a JWK with private parts
                raise AuthError(f"signing key {kid!r} is not an RSA public key")
            claims = jwt.decode(
                token,
                key=public_key,
                algorithms=["RS256"],
                audience=self.settings.app_id,
                issuer=list(self.settings.issuers),
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as e:
            raise AuthError(f"invalid token: {e}") from e
        # Replies (with our app token) go to the activity's serviceUrl: only the one that
        # Microsoft signed.
        claimed = str(claims.get("serviceurl") or claims.get("serviceUrl") or "")
        actual = str(activity.get("serviceUrl") or "")
        if not claimed or claimed.rstrip("/") != actual.rstrip("/"):
            raise AuthError(f"serviceurl claim {claimed!r} != activity serviceUrl {actual!r}")
        return claims


class Connector:
    """Posts activities to the Bot Connector with an app token (client credentials) cached
    until shortly before it expires."""

    def __init__(self, settings: TeamsSettings, http: Http) -> None:
        self.settings = settings
        self.http = http
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = asyncio.Lock()

    async def app_token(self, force: bool = False) -> str:
        async with self._lock:
            if force or self._token is None or time.monotonic() >= self._token_expires:
                form = {"grant_type": "client_credentials", "client_id": self.settings.app_id,
                        "client_secret": self.settings.app_password,
                        "scope": self.settings.token_scope}
                async with self.http.session().post(self.settings.token_url, data=form) as resp:
                    if resp.status != 200:
                        raise ConnectorError(f"token endpoint answered {resp.status}")
                    body = await resp.json(content_type=None)
                self._token = str(body["access_token"])
                lifetime = float(body.get("expires_in", 3600))
                self._token_expires = time.monotonic() + max(lifetime - 300, lifetime / 2)
            return self._token

    async def post_activity(
        self, service_url: str, conversation_id: str, activity: dict[str, Any]
    ) -> bool:
        """POST {serviceUrl}/v3/conversations/{id}/activities. True when delivered."""
        url = URL(f"{service_url.rstrip('/')}/v3/conversations/"
                  f"{quote(conversation_id, safe='')}/activities", encoded=True)
        retried_401 = False
        for attempt in range(self.settings.max_retries + 1):
            retry_after: str | None = None
            try:
                token = await self.app_token(force=retried_401)
                async with self.http.session().post(
                    url, json=activity, headers={"Authorization": f"Bearer {token}"}
                ) as resp:
                    if resp.status < 300:
                        return True
                    detail = (await resp.text())[:300]
                    if resp.status == 401 and not retried_401:
                        retried_401 = True  # token revoked or rotated: one fresh one
                        continue
                    if resp.status != 429 and resp.status < 500:
                        logger.error("Teams reply refused (%s): %s", resp.status, detail)
                        return False
                    retry_after = resp.headers.get("Retry-After")
                    logger.warning("Teams reply got %s (attempt %s)", resp.status, attempt + 1)
            except asyncio.TimeoutError:
                # The activity may have arrived: retrying could show it twice.
                logger.error("Teams reply timed out after %ss", self.settings.http_timeout_s)
                return False
            except (aiohttp.ClientError, ConnectorError, KeyError, ValueError) as e:
                logger.warning("Teams reply failed (attempt %s): %r", attempt + 1, e)
            if attempt < self.settings.max_retries:
                await asyncio.sleep(retry_delay(retry_after, attempt))
        logger.error("Teams reply to %s dropped after %s attempts", conversation_id,
                     self.settings.max_retries + 1)
        return False


# --- Rasa channel classes ---------------------------------------------------------------


class TeamsOutput(BotFramework):
    """Replies into the conversation the activity came from."""

    @classmethod
    def name(cls) -> str:
        return "teams"

    def __init__(self, connector: Connector, activity: dict[str, Any]) -> None:
        # The stock __init__ only stores credentials; ours live in the connector.
        self.connector = connector
        self.service_url = str(activity["serviceUrl"])
        self.conversation = activity["conversation"]
        self.bot = activity.get("recipient") or {}
        self.user = activity.get("from") or {}

    def prepare_message(self, recipient_id: str, message_data: dict[str, Any]) -> dict:
        # recipient_id is Rasa's sender id (chat~user in groups), not a Teams id.
        data: dict[str, Any] = {"type": "message", "from": self.bot, "recipient": self.user,
                                "conversation": {"id": self.conversation["id"]}}
        data.update(message_data)
        return data

    async def send(self, message_data: dict[str, Any]) -> None:
        await self.connector.post_activity(self.service_url, self.conversation["id"],
                                           message_data)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # One message, not one per paragraph: fewer activities, fewer 429s.
        await self.send(self.prepare_message(
            recipient_id, {"text": teams_markdown(text), "textFormat": "markdown"}))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send(self.prepare_message(
            recipient_id, {"attachments": [hero_card(text, buttons)]}))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A `{"teams": {...activity...}}` custom response, or one that is itself an
        activity; other custom payloads (e.g. hand-off data) are not shown in Teams."""
        teams = json_message.get("teams")
        if isinstance(teams, dict):
            activity = teams
        elif {"text", "attachments", "type"} & json_message.keys():
            activity = json_message
        else:
            logger.debug("Custom payload not meant for Teams: %s", sorted(json_message))
            return
        await self.send(self.prepare_message(recipient_id, dict(activity)))


class TeamsInput(EnvWebhookInput[TeamsSettings]):
    """Teams webhook (`/webhooks/teams/webhook`), configured from the environment."""

    title = "Teams"
    required_env = ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD")

    @classmethod
    def name(cls) -> str:
        return "teams"

    @classmethod
    def settings_from_env(cls) -> TeamsSettings | None:
        return TeamsSettings.from_env()

    def __init__(self, settings: TeamsSettings | None) -> None:
        super().__init__(settings)
        if settings is None:
            return
        self.http = Http(settings.http_timeout_s)
        self.keys = SigningKeys(settings, self.http)
        self.validator = TokenValidator(settings, self.keys)
        self.connector = Connector(settings, self.http)
        handoff = hub()
        if handoff is not None:  # a person's replies reach the partner proactively
            connector = self.connector
            handoff.outputs["teams"] = lambda ref: TeamsOutput(connector, ref)

    def tenant_allowed(self, activity: dict[str, Any]) -> bool:
        assert self.settings is not None
        if not self.settings.allowed_tenants:
            return True
        tenant = (nonempty_str(obj(obj(activity.get("channelData")).get("tenant")).get("id"))
                  or nonempty_str(obj(activity.get("conversation")).get("tenantId")))
        return tenant in self.settings.allowed_tenants

    def user_message(self, activity: dict[str, Any]) -> UserMessage | None:
        text = incoming_text(activity)
        if text is None:
            return None
        return UserMessage(text=text, output_channel=TeamsOutput(self.connector, activity),
                           sender_id=sender_key(activity), input_channel=self.name(),
                           metadata=message_metadata(activity))

    async def handle(self, request: Request, settings: TeamsSettings,
                     on_new_message: OnNewMessage) -> HTTPResponse:
        activity = json_object(request.body)
        if activity is None:
            return response.text("expected a Bot Framework activity", status=400)
        try:
            await self.validator.validate(request.headers.get("Authorization"), activity)
        except AuthError as e:
            logger.warning("Teams request refused: %s", e)
            return response.text("unauthorized", status=HTTPStatus.UNAUTHORIZED)
        if not self.tenant_allowed(activity):
            logger.warning("Teams request from a tenant not allowed: %s",
                           obj(activity.get("conversation")).get("tenantId"))
            return response.text("tenant not allowed", status=HTTPStatus.FORBIDDEN)
        conversation_id = nonempty_str(obj(activity.get("conversation")).get("id"))
        if nonempty_str(activity.get("serviceUrl")) and conversation_id:
            message = self.user_message(activity)
            if message is not None:
                # Answer the Bot Connector at once (it waits 15 s at most); Rasa's lock
                # store keeps the turns of one conversation in order.
                self.in_background(on_new_message(message),
                                   f"Teams message from {message.sender_id}")
        return response.json({}, status=HTTPStatus.OK)

    async def close(self) -> None:
        await self.http.close()
