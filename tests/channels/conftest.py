"""Fixtures of the channel tests: the fakes, an in-process Sanic server for one channel, and
the real bot (action server + `rasa run`) configured to talk to the fakes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic

from scripts.serve import Bot, free_port, newest_model
from tests.channels.fakes import (
    APP_ID,
    APP_PASSWORD,
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_TEAM,
    TENANT,
    FakeBotFramework,
    FakeSlack,
)
from tests.support.bots import served

API_TOKEN = "test-token"
# Every variable the channels read, blank: nothing leaks in from the caller's environment.
CHANNEL_VARS = [
    "TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "TEAMS_TENANT_ID", "TEAMS_TOKEN_URL",
    "TEAMS_TOKEN_SCOPE", "TEAMS_OPENID_URL", "TEAMS_ISSUERS", "TEAMS_ALLOWED_TENANTS",
    "TEAMS_KEYS_MIN_REFRESH_SECONDS", "TEAMS_HTTP_TIMEOUT_SECONDS", "TEAMS_MAX_RETRIES",
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "SLACK_ALLOWED_TEAMS",
    "SLACK_TIMESTAMP_WINDOW_SECONDS", "SLACK_DEDUP_TTL_SECONDS", "REDIS_URL",
    "SLACK_LOCALE_CACHE_SECONDS", "SLACK_HTTP_TIMEOUT_SECONDS",
    "HANDOFF_SLACK_CHANNEL", "HANDOFF_STAFF_IDS", "HANDOFF_TIMEOUT_SECONDS",
    "HANDOFF_OFFICE_HOURS", "HANDOFF_OFFICE_DAYS", "HANDOFF_TIMEZONE",
    "HANDOFF_CHECK_INTERVAL_SECONDS", "HANDOFF_WEBHOOK_URL", "HANDOFF_WEBHOOK_SECRET",
    "HANDOFF_WEBHOOK_MAX_ATTEMPTS", "HANDOFF_WEBHOOK_BACKOFF_SECONDS",
    "HANDOFF_WEBHOOK_TIMEOUT_SECONDS",
]


@pytest.fixture(scope="session")
def fake_bf() -> Iterator[FakeBotFramework]:
    fake = FakeBotFramework().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def teams_env(fake: FakeBotFramework, **overrides: str) -> dict[str, str]:
    return {"TEAMS_APP_ID": APP_ID, "TEAMS_APP_PASSWORD": APP_PASSWORD,
            "TEAMS_TENANT_ID": TENANT, "TEAMS_TOKEN_URL": fake.token_url,
            "TEAMS_OPENID_URL": fake.openid_url, "TEAMS_ALLOWED_TENANTS": TENANT,
            "TEAMS_KEYS_MIN_REFRESH_SECONDS": "0", "TEAMS_HTTP_TIMEOUT_SECONDS": "5",
            **overrides}


def slack_env(fake: FakeSlack, **overrides: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": SLACK_BOT_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url, "SLACK_ALLOWED_TEAMS": SLACK_TEAM,
            "SLACK_HTTP_TIMEOUT_SECONDS": "5", **overrides}


# --- in-process: one channel's blueprint in a real Sanic server -----------------------------


class Served:
    """A channel served in-process; `received` holds what Rasa would have been given."""

    def __init__(self, url: str, received: list[UserMessage]) -> None:
        self.url = url
        self.received = received


@contextlib.asynccontextmanager
async def serve_channel(channel: InputChannel, reply: str | None = "echo") -> AsyncIterator[
        Served]:
    """Serve `channel` at /webhooks/<name>/ on a free port. Each message is recorded and, if
    `reply`, answered through the channel's output (`echo: <text>`), as Rasa would."""
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        if reply:
            await message.output_channel.send_text_message(message.sender_id,
                                                           f"{reply}: {message.text}")

    Sanic.test_mode = True  # lets several apps start in one process (sanic's touch-up)
    app = Sanic(f"channel_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, access_log=False,
                                     return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield Served(f"http://127.0.0.1:{port}/webhooks/{channel.name()}", received)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


# --- the real bot ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def channel_model(request: pytest.FixtureRequest) -> Path:
    """The suite's `model_path` (tests/conftest.py). Outside CI, never train one just for
    these tests: without a model in models/ (or $MPN_MODEL) they are skipped."""
    if not (os.environ.get("CI") or os.environ.get("MPN_MODEL") or newest_model()):
        pytest.skip("no trained model in models/ (end-to-end channel tests need one)")
    try:
        return Path(request.getfixturevalue("model_path"))
    except pytest.FixtureLookupError:
        model = newest_model()
        if model is None:
            pytest.skip("no trained model in models/")
        return model


@pytest.fixture(scope="session")
def channel_bot(channel_model: Path, fake_bf: FakeBotFramework,
                fake_slack: FakeSlack) -> Iterator[Bot]:
    """Action server + Rasa server with Teams and Slack pointed at the fakes."""
    env = {var: "" for var in CHANNEL_VARS} | teams_env(fake_bf) | slack_env(fake_slack)
    bot = Bot(model=channel_model, env=env, api_token=API_TOKEN)
    with served(bot) as started:
        yield started


def http(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tracker(bot: Bot, sender: str) -> dict[str, Any]:
    """The conversation's tracker via Rasa's HTTP API (sender ids are URL-safe)."""
    url = f"{bot.url}/conversations/{urllib.parse.quote(sender, safe=':@;=~')}/tracker"
    status, body = http("GET", f"{url}?token={API_TOKEN}")
    assert status == 200, body
    return json.loads(body)


def user_events(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in state.get("events", []) if e.get("event") == "user"]


def bot_events(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in state.get("events", []) if e.get("event") == "bot"]


# --- a real redis-server ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on a free loopback port (Debian's `redis-server`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (apt-get install -y redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def wait_turns(bot: Bot, sender: str, turns: int, timeout: float = 120) -> dict[str, Any]:
    """Poll the tracker until `turns` user messages have been answered (the bot is back to
    listening). Replies are posted before the tracker is saved, so they are out by then."""
    deadline = time.monotonic() + timeout
    while True:
        state = tracker(bot, sender)
        done = state.get("latest_action_name") == "action_listen"
        if len(user_events(state)) >= turns and done:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{sender}: {len(user_events(state))} of {turns} turns after "
                                 f"{timeout} s\n{bot.logs()[-3000:]}")
        time.sleep(0.3)
