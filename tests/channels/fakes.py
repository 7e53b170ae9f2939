"""Fakes of Microsoft's Bot Framework and of Slack's Web API, on 127.0.0.1, plus request
builders shaped like the documented examples.

Each fake is an aiohttp server in its own thread (so it serves both in-process async tests
and the Rasa server started as a subprocess) and records what it received.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from scripts.serve import free_port

APP_ID = "c9e8c047-2a74-40a2-b28a-b162d5f5327c"
APP_PASSWORD = "fake-app-password"
BOT_ID = f"28:{APP_ID}"
BOT_NAME = "MPN Support"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ISSUER = "https://api.botframework.com"

SLACK_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_BOT_TOKEN = "xoxb-fake-bot-token"
SLACK_TEAM = "T123ABC456"
SLACK_APP = "A123ABC456"
SLACK_BOT_USER = "U0LAN0Z89"


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2) -> Any:
    """Poll until predicate() is truthy; return it (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(interval)


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeServer:
    """An aiohttp application served from a background thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def start(self) -> FakeServer:
        ready = threading.Event()

        def serve() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            app = web.Application()
            self.routes(app)
            runner = web.AppRunner(app, access_log=None)
            self.loop.run_until_complete(runner.setup())
            self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(runner.cleanup())
            self.loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name=type(self).__name__)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self) -> None:
        if self.loop and self._thread:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


# --- Bot Framework ----------------------------------------------------------------------


class FakeBotFramework(FakeServer):
    """OpenID configuration, JWKS, token endpoint and the Bot Connector's
    `/{region}/v3/conversations/{id}/activities`."""

    def __init__(self) -> None:
        super().__init__()
        self.kid = "kid-1"
        self.keys: dict[str, rsa.RSAPrivateKey] = {self.kid: new_rsa_key()}  # published
        self.openid_fetches = 0
        self.jwks_fetches = 0
        self.token_requests: list[tuple[str, dict[str, str]]] = []  # (tenant, form)
        self.issued_tokens: set[str] = set()
        self.activities: list[dict[str, Any]] = []  # {"conversation_id", "activity", "at"}
        self.throttle: dict[str, list[int]] = {}  # conversation id → statuses to answer first
        self.attempts: list[tuple[str, int, float]] = []  # (conversation id, status, time)
        self.retry_after = "1"

    @property
    def service_url(self) -> str:
        return f"{self.url}/amer/"  # shaped like https://smba.trafficmanager.net/amer/

    @property
    def openid_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    @property
    def token_url(self) -> str:
        return f"{self.url}/{{tenant}}/oauth2/v2.0/token"

    def rotate_key(self) -> str:
        """Publish a new signing key (the old one stays published) and sign with it."""
        self.kid = f"kid-{len(self.keys) + 1}"
        self.keys[self.kid] = new_rsa_key()
        return self.kid

    def jwk(self, kid: str) -> dict[str, Any]:
        key = RSAAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
        return {**key, "use": "sig", "kid": kid, "x5t": kid,
                "endorsements": ["msteams", "emulator", "webchat", "slack"]}

    def token(self, *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None,
              alg: str = "RS256", secret: str | bytes | None = None,
              **claims: Any) -> str:
        """A Bot Connector → bot token; claims override the valid defaults."""
        now = int(time.time())
        payload = {"serviceurl": self.service_url, "nbf": now - 5, "exp": now + 3600,
                   "iss": ISSUER, "aud": APP_ID, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {"kid": kid or self.kid}
        if alg == "none":
            return jwt.encode(payload, None, algorithm="none", headers=headers)
        signing_key = secret if alg.startswith("HS") else (key or self.keys[kid or self.kid])
        return jwt.encode(payload, signing_key, algorithm=alg, headers=headers)

    def replies(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [a["activity"] for a in self.activities
                    if a["conversation_id"] == conversation_id]

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/.well-known/openidconfiguration", self._openid)
        app.router.add_get("/v1/.well-known/keys", self._jwks)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_post("/{region}/v3/conversations/{conversation_id}/activities",
                            self._activity)

    async def _openid(self, _: web.Request) -> web.Response:
        self.openid_fetches += 1
        return web.json_response({
            "issuer": ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": f"{self.url}/v1/.well-known/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })

    async def _jwks(self, _: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response({"keys": [self.jwk(kid) for kid in self.keys]})

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append((request.match_info["tenant"], form))
        if form.get("client_id") != APP_ID or form.get("client_secret") != APP_PASSWORD:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"app-token-{uuid.uuid4()}"
        self.issued_tokens.add(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599,
                                  "ext_expires_in": 3599, "access_token": token})

    async def _activity(self, request: web.Request) -> web.Response:
        conversation_id = request.match_info["conversation_id"]
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued_tokens:
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        with self.lock:
            pending = self.throttle.get(conversation_id) or []
            status = pending.pop(0) if pending else 200
            self.attempts.append((conversation_id, status, time.monotonic()))
        if status != 200:
            return web.json_response({"error": {"code": "Throttled"}}, status=status,
                                     headers={"Retry-After": self.retry_after})
        activity = await request.json()
        with self.lock:
            self.activities.append({"conversation_id": conversation_id, "activity": activity,
                                    "at": time.monotonic()})
        return web.json_response({"id": str(uuid.uuid4())})


def bad_tokens(fake: FakeBotFramework) -> dict[str, str]:
    """Every way a token must be refused (the activity's serviceUrl is the fake's)."""
    public_pem = fake.keys[fake.kid].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    return {
        "unsigned": fake.token(alg="none"),
        "another key": fake.token(key=new_rsa_key()),
        "HS256": fake.token(alg="HS256", secret=b"x" * 32),
        "HS256 with the public key": _hs256_with_public_key(fake, public_pem),
        "RS512": fake.token(alg="RS512"),
        "expired": fake.token(exp=now - 3600, nbf=now - 7200),
        "no expiry": fake.token(exp=None),
        "other audience": fake.token(aud="00000000-0000-0000-0000-000000000000"),
        "other issuer": fake.token(iss="https://sts.windows.net/evil/"),
        "other serviceurl": fake.token(serviceurl="https://smba.trafficmanager.net/amer/"),
        "no serviceurl": fake.token(serviceurl=None),
        "unknown kid": fake.token(kid="kid-unknown", key=new_rsa_key()),
        "garbage": "not.a.jwt",
    }


def _hs256_with_public_key(fake: FakeBotFramework, public_pem: bytes) -> str:
    """The classic algorithm confusion: HMAC keyed with the published RSA key. PyJWT will not
    sign that itself, so it is assembled by hand."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": fake.kid}).encode())
    now = int(time.time())
    claims = b64(json.dumps({"iss": "https://api.botframework.com", "aud": APP_ID,
                             "serviceurl": fake.service_url, "exp": now + 600}).encode())
    signature = hmac.new(public_pem, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


_ids = itertools.count(1485983408511)


def teams_activity(
    service_url: str, text: str = "", *, locale: str | None = "ja-JP",
    conversation: dict[str, Any] | None = None, user: str | None = None,
    kind: str = "message", **extra: Any,
) -> dict[str, Any]:
    """An activity as Teams sends it (Microsoft's "Teams activity" schema examples)."""
    user_id = user or f"29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQ{uuid.uuid4().hex[:12]}"
    conversation = conversation or {"conversationType": "personal", "tenantId": TENANT,
                                    "id": f"a:17I0kl8EkpE1O9PH5TWrzrLqwYVBQqm{uuid.uuid4().hex}"}
    activity: dict[str, Any] = {
        "type": kind,
        "id": str(next(_ids)),
        "timestamp": "2017-02-01T21:10:07.437Z",
        "localTimestamp": "2017-02-01T14:10:07.437-07:00",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user_id, "name": "Megan Bowen",
                 "aadObjectId": "7faf80fc-e1c9-4d35-82bc-0fdb9b3c5f92"},
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "entities": [{"locale": locale or "en-US", "country": "JP", "platform": "Web",
                      "timezone": "Asia/Tokyo", "type": "clientInfo"}],
        "channelData": {"tenant": {"id": conversation.get("tenantId", TENANT)}},
    }
    if kind == "message":
        activity.update(textFormat="plain", text=text, attachments=[])
    if locale:
        activity["locale"] = locale
    activity.update(extra)
    return activity


def group_chat(thread: str | None = None) -> dict[str, Any]:
    return {"isGroup": True, "conversationType": "groupChat", "tenantId": TENANT,
            "id": f"19:{thread or uuid.uuid4().hex}@thread.v2"}


def team_channel(message_id: str = "1481567603816") -> dict[str, Any]:
    return {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
            "id": f"19:{uuid.uuid4().hex}@thread.skype;messageid={message_id}"}


def mention_entity() -> dict[str, Any]:
    return {"mentioned": {"id": BOT_ID, "name": BOT_NAME}, "text": f"<at>{BOT_NAME}</at>",
            "type": "mention"}


def conversation_update(service_url: str, *, locale: str | None, **kw: Any) -> dict[str, Any]:
    """The bot added to a conversation (membersAdded holds the bot)."""
    return teams_activity(service_url, kind="conversationUpdate", locale=locale,
                          membersAdded=[{"id": BOT_ID}], **kw)


# --- Slack --------------------------------------------------------------------------------


class FakeSlack(FakeServer):
    """Slack's Web API: chat.postMessage and users.info (with include_locale)."""

    def __init__(self) -> None:
        super().__init__()
        self.locales: dict[str, str] = {}
        self.messages: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []  # chat.update calls
        self.users_info_calls: list[dict[str, str]] = []

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def replies(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m.get("channel") == channel
                    and (thread_ts is None or m.get("thread_ts") == thread_ts)]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_route("*", "/api/users.info", self._users_info)
        app.router.add_post("/api/chat.update", self._update)

    def updates(self, channel: str, ts: str) -> list[dict[str, Any]]:
        with self.lock:
            return [u for u in self.updated if u.get("channel") == channel and u.get("ts") == ts]

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body = await request.json()
        with self.lock:
            self.updated.append(body)
        return web.json_response({"ok": True, "channel": body.get("channel"),
                                  "ts": body.get("ts"), "text": body.get("text")})

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {SLACK_BOT_TOKEN}"

    async def _post_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body = await request.json()
        ts = f"{time.time():.6f}"
        with self.lock:
            self.messages.append({**body, "ts": ts})
        return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts,
                                  "message": {"type": "message", "text": body.get("text"),
                                              "bot_id": "B123ABC456", "ts": ts}})

    async def _users_info(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        params = dict(request.query) | dict(await request.post())
        self.users_info_calls.append(params)
        user = params.get("user", "")
        if user not in self.locales:
            return web.json_response({"ok": False, "error": "user_not_found"})
        info: dict[str, Any] = {"id": user, "team_id": SLACK_TEAM, "name": "spengler",
                                "real_name": "Egon Spengler", "tz": "Asia/Tokyo"}
        if params.get("include_locale") in ("1", "true"):
            info["locale"] = self.locales[user]
        return web.json_response({"ok": True, "user": info})


def slack_signed(body: bytes, *, secret: str = SLACK_SIGNING_SECRET,
                 timestamp: int | None = None, content_type: str = "application/json",
                 **headers: str) -> dict[str, str]:
    """Headers Slack sends: X-Slack-Request-Timestamp and the v0 signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={digest.hexdigest()}", **headers}


def slack_event(event: dict[str, Any], *, team: str = SLACK_TEAM) -> dict[str, Any]:
    """An Events API `event_callback` envelope (Slack's documented example)."""
    return {
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "team_id": team,
        "api_app_id": SLACK_APP,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team, "user_id": SLACK_BOT_USER,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMTIzQUJDNDU2In0",
    }


def _ts() -> str:
    return f"{time.time():.6f}"


def slack_dm(user: str, text: str, channel: str = "D024BE91L", **extra: Any) -> dict[str, Any]:
    """A `message.im` event."""
    ts = _ts()
    return {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
            "event_ts": ts, "channel_type": "im", "team": SLACK_TEAM,
            "client_msg_id": str(uuid.uuid4()), **extra}


def slack_mention(user: str, text: str, channel: str = "C123ABC456",
                  **extra: Any) -> dict[str, Any]:
    """An `app_mention` event; text includes `<@bot>` like Slack's."""
    ts = _ts()
    return {"type": "app_mention", "user": user, "text": f"<@{SLACK_BOT_USER}> {text}",
            "ts": ts, "channel": channel, "event_ts": ts, "team": SLACK_TEAM,
            "client_msg_id": str(uuid.uuid4()), **extra}


def slack_block_actions(user: str, channel: str, message: dict[str, Any],
                        button: dict[str, Any], *, team: str = SLACK_TEAM) -> bytes:
    """A Block Kit button click, form-encoded `payload=…` as Slack posts it."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "spengler", "name": "spengler", "team_id": team},
        "api_app_id": SLACK_APP,
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "container": {"type": "message", "message_ts": message.get("ts", _ts()),
                      "channel_id": channel, "is_ephemeral": False,
                      **({"thread_ts": message["thread_ts"]} if "thread_ts" in message else {})},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "team": {"id": team, "domain": "partners"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "directmessage" if channel[0] == "D" else "support"},
        "message": {"type": "message", "bot_id": "B123ABC456", "ts": message.get("ts", _ts()),
                    **{k: message[k] for k in ("text", "blocks", "thread_ts") if k in message}},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T123ABC456/1/abc",
        "actions": [{"action_id": button["action_id"], "block_id": "buttons_0",
                     "text": button["text"], "value": button["value"], "type": "button",
                     "action_ts": _ts()}],
    }
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


# --- a ticket system's webhook -------------------------------------------------------------


class FakeWebhook(FakeServer):
    """Receives the hand-off webhook; the first delivery for a conversation id in
    `fail_once` is answered 500."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []  # {"headers", "body", "raw", "status"}
        self.fail_once: set[str] = set()

    def for_conversation(self, sender: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["body"].get("conversation_id") == sender]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        with self.lock:
            status = 200
            if body.get("conversation_id") in self.fail_once:
                self.fail_once.discard(body["conversation_id"])
                status = 500
            self.received.append({"headers": dict(request.headers), "body": body, "raw": raw,
                                  "status": status})
        return web.json_response({"ok": status == 200}, status=status)
