"""Generated bad input against the REST channel (channels/rest.py).

In-process: the channel's real request handler (SafeRestInput's blueprint route, given a
real Sanic Request and a stub in place of Rasa) gets 10 000 generated requests: random
bytes, JSON of every shape, near-valid objects with odd types and characters (control
characters, unpaired surrogates, invalid UTF-8, huge values) and byte-level mutations of
valid bodies. It must either hand exactly the partner's message to Rasa or refuse with
the channel's 4xx; any other exception fails. Valid requests must never be refused.

Live: about 1 000 mixed valid and invalid requests against the running bot (bounded in
time), then a normal conversation still works and no 5xx was seen.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sanic.compat import Header
from sanic.exceptions import SanicException
from sanic.request import Request

from channels.rest import MAX_MESSAGE_CHARS, MAX_SENDER_CHARS, SafeRestInput, clean_message
from scripts.serve import Bot
from tests.support.rest import RestClient

APP = Sanic(f"fuzz-{uuid.uuid4().hex[:8]}")
LOOP = asyncio.new_event_loop()
RECEIVED: list[UserMessage] = []


async def stub_on_new_message(message: UserMessage) -> None:
    RECEIVED.append(message)
    await message.output_channel.send_text_message(message.sender_id, "ok")


RECEIVE = next(route.handler for route in SafeRestInput().blueprint(stub_on_new_message)._future_routes
               if route.uri == "/webhook")


def handle(body: bytes, query: str = "") -> tuple[int, UserMessage | None]:
    """Runs the channel's handler on one request: (status, message passed to Rasa)."""
    url = b"/webhooks/rest/webhook" + (b"?" + query.encode() if query else b"")
    request = Request(url, Header({"content-type": "application/json"}), "1.1", "POST", None, APP)
    request.body = body
    RECEIVED.clear()
    try:
        response = LOOP.run_until_complete(RECEIVE(request))
    except SanicException as error:
        assert 400 <= error.status_code < 500, (error.status_code, body[:200])
        assert not RECEIVED
        return error.status_code, None
    assert response.status == 200
    if "stream=true" in query:
        return 200, None  # streamed replies: the stub runs when the stream is consumed
    assert len(RECEIVED) == 1, body[:200]
    assert json.loads(response.body) == [{"recipient_id": RECEIVED[0].sender_id, "text": "ok"}]
    return 200, RECEIVED[0]


def check_delivered(message: UserMessage) -> None:
    """What reaches Rasa is a storable sender and a clean, non-empty text."""
    assert isinstance(message.sender_id, str) and message.sender_id.strip()
    assert len(message.sender_id) <= MAX_SENDER_CHARS
    assert all(unicodedata.category(c) not in ("Cc", "Cs") for c in message.sender_id)
    message.sender_id.encode("utf-8")
    assert isinstance(message.text, str) and message.text.strip()
    assert "\x00" not in message.text
    message.text.encode("utf-8")  # no unpaired surrogate left
    assert isinstance(message.input_channel, str) and message.input_channel


def is_valid(body: Any) -> bool:
    """The contract, independently of channels/rest.py."""
    if not isinstance(body, dict):
        return False
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    return (isinstance(sender, str) and bool(sender.strip()) and len(sender) <= MAX_SENDER_CHARS
            and all(unicodedata.category(c) not in ("Cc", "Cs") for c in sender)
            and isinstance(message, str) and len(message) <= MAX_MESSAGE_CHARS
            and bool(clean_message(message).strip())
            and (metadata is None or isinstance(metadata, dict)))


COUNTS: dict[str, int] = {}
QUOTAS = {"bytes": 2500, "shapes": 2500, "objects": 3000, "mutations": 2000}
assert sum(QUOTAS.values()) >= 10_000


def fuzz_settings(kind: str) -> settings:
    return settings(max_examples=QUOTAS[kind], deadline=None, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


def count(kind: str) -> None:
    COUNTS[kind] = COUNTS.get(kind, 0) + 1


# Any character, including controls, unpaired surrogates, and non-BMP characters.
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
any_text = st.text(any_char, max_size=24) | st.sampled_from(
    ["", " ", "\x00", "\u3000", "\ud800", "\udfff", "\ufeff", "\u200b", "あ", "你好", "\x1b[31m"])
json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | any_text)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=8,
)
natural = st.sampled_from([
    "特典をアクティブ化する方法を教えてください", "残りのインシデント数を確認したい",
    "请问怎么激活技术支持权益？", "想查一下我们还剩几个支持事件", "/affirm", '/guide_next{"step": 1}',
    "hello", "アクセスID 1234-5678-ABCD を入力しました",
])


def encode(value: Any, ascii_only: bool) -> bytes:
    """JSON bytes; without ensure_ascii, unpaired surrogates become invalid UTF-8."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@fuzz_settings("bytes")
@given(st.binary(max_size=2048))
@example(b"")
@example(b"null")
@example(b"[]")
@example(b"\xff\xfe\xfa")
@example(b"[" * 5000 + b"]" * 5000)
@example(b'{"sender":"a","message":"' + "あ".encode() * (MAX_MESSAGE_CHARS + 1) + b'"}')
@example(b'\xef\xbb\xbf{"sender":"a","message":"x"}')
@example(b'{"sender":"a","message":"x"}\x00')
@example(b'{"sender": "\xe0\xa0\x80\xf4\x90\xe0\xa0\x80", "message": "x"}')  # ujson: str > U+10FFFF
def test_random_bytes_never_crash_the_channel(body: bytes) -> None:
    count("bytes")
    status, message = handle(body)
    if message is not None:
        check_delivered(message)


@fuzz_settings("shapes")
@given(json_values, st.booleans())
@example(None, True)
@example([], True)
@example({}, True)
@example("message", True)
@example(1e308, True)
@example(2**70, True)
def test_json_of_any_shape_is_accepted_only_when_valid(value: Any, ascii_only: bool) -> None:
    count("shapes")
    body = encode(value, ascii_only)
    status, message = handle(body)
    if message is not None:
        check_delivered(message)
    if ascii_only:  # then the bytes are valid UTF-8 JSON and the contract decides
        assert (status == 200) == is_valid(value), (status, value)


request_objects = st.fixed_dictionaries(
    {},
    optional={
        "sender": st.one_of(any_text, st.text(max_size=300), st.uuids().map(str), json_values),
        "message": st.one_of(any_text, natural, st.text(any_char, min_size=1, max_size=120),
                             natural.map(lambda text: text * 400), json_values),
        "metadata": st.one_of(st.none(), st.dictionaries(st.text(max_size=8), json_values,
                                                         max_size=3), json_values),
        "input_channel": st.one_of(st.none(), st.just("rest"), any_text, json_values),
        "extra": json_values,
    },
)


@fuzz_settings("objects")
@given(request_objects, st.booleans(),
       st.sampled_from(["", "stream=false", "stream=0", "stream=%ff", "stream=true&x=%01", "a=b"]))
@example({"sender": "u", "message": "x" * MAX_MESSAGE_CHARS}, True, "")
@example({"sender": "u", "message": "x" * (MAX_MESSAGE_CHARS + 1)}, True, "")
@example({"sender": "u" * MAX_SENDER_CHARS, "message": "x"}, True, "")
@example({"sender": "u" * (MAX_SENDER_CHARS + 1), "message": "x"}, True, "")
@example({"sender": "u\x00", "message": "x"}, True, "")
@example({"sender": "u\ud800", "message": "x"}, True, "")
@example({"sender": "u", "message": "\x00\x00"}, True, "")
@example({"sender": "u", "message": "\ud800あ"}, True, "")
@example({"sender": "u", "message": "x", "metadata": []}, True, "")
@example({"sender": "u", "message": "x", "input_channel": "\x00" * 10_000}, True, "")
def test_request_objects_are_checked_field_by_field(body: dict[str, Any], ascii_only: bool,
                                                    query: str) -> None:
    count("objects")
    status, message = handle(encode(body, ascii_only), query)
    if message is not None:
        check_delivered(message)
        assert message.sender_id == body["sender"]
        assert message.text == clean_message(body["message"]).strip()  # Rasa strips
    if ascii_only:
        assert (status == 200) == is_valid(body), (status, body)


valid_bodies = st.builds(lambda sender, text: {"sender": sender, "message": text},
                         st.text(min_size=1, max_size=20).filter(str.strip), natural)
mutation = st.tuples(st.sampled_from(["insert", "delete", "replace", "truncate"]),
                     st.integers(min_value=0), st.binary(min_size=1, max_size=4))


@fuzz_settings("mutations")
@given(valid_bodies, st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_bodies_never_crash_the_channel(body: dict[str, Any],
                                                      mutations: list[tuple[str, int, bytes]]) -> None:
    count("mutations")
    data = bytearray(encode(body, ascii_only=False))
    for kind, position, chunk in mutations:
        at = position % (len(data) + 1)
        if kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at:at + len(chunk)]
        elif kind == "replace":
            data[at:at + len(chunk)] = chunk
        else:
            del data[at:]
    status, message = handle(bytes(data))
    if message is not None:
        check_delivered(message)


def test_at_least_ten_thousand_generated_inputs_ran() -> None:
    if len(COUNTS) < len(QUOTAS):
        pytest.skip("runs after the generated tests of this module")
    assert sum(COUNTS.values()) >= 10_000, COUNTS


# ------------------------------------------------------------------------------- live

LIVE_REQUESTS = 1000
LIVE_BUDGET_S = 240  # the live run stops sending after this, whatever the machine's speed
NATURAL = [
    ("技術関連の特典を開いたら「まだ特典がないように見えます」と表示されました", "ja"),
    ("テクニカルサポートの特典をアクティブ化する方法を教えてください", "ja"),
    ("うちのテクニカルサポートのインシデントって何件あるの", "ja"),
    ("请问怎么激活技术支持权益？", "zh"),
    ("技术支持事件我们到底有几个", "zh"),
    ("想查一下我们还剩几个支持事件", "zh"),
]


def invalid_bodies(rng: random.Random, sender: str) -> bytes:
    choices = [
        b"", b"null", b"[]", b"{}", b"true", b"42", b'"text"', b"not json", b"{", b"\xff\xfe\xfa",
        b"[" * 3000 + b"]" * 3000,
        json.dumps({"sender": sender}).encode(),
        json.dumps({"message": "hi"}).encode(),
        json.dumps({"sender": sender, "message": rng.choice([None, 42, [], {}, True, ""])}).encode(),
        json.dumps({"sender": rng.choice([None, 7, [], {}, "", " ", "a\x00b", "x" * 300]),
                    "message": "hi"}).encode(),
        json.dumps({"sender": sender + "\ud800", "message": "hi"}).encode(),
        json.dumps({"sender": sender, "message": "hi", "metadata": rng.choice(["ja", 1, []])}).encode(),
        json.dumps({"sender": sender, "message": "あ" * 60_000}, ensure_ascii=False).encode(),
        json.dumps({"sender": sender, "message": "\x00\x00 \u3000"}).encode(),
        json.dumps({"sender": sender, "message": "こんにちは"}, ensure_ascii=False).encode()[:-3],
        bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))),
    ]
    return rng.choice(choices)


def valid_body(rng: random.Random, sender: str) -> bytes:
    text, _ = rng.choice(NATURAL)
    text = rng.choice([
        text, text + "\x07\x1b", "\ud800" + text, text * 30, text + " 😀", "/affirm",
        '/guide_next{"step": 1}', '/guide_next{"step": "x"}', "/nonexistent_intent",
        f"Access ID {rng.randint(10**7, 10**8)}-ABCD を入力しました",
    ])
    # Unpaired surrogates only as \u escapes: raw, they are invalid UTF-8 (refused, rightly).
    ascii_only = rng.random() < 0.5 or "\ud800" in text
    return json.dumps({"sender": sender, "message": text, "input_channel": rng.choice(["rest", "\x00"])},
                      ensure_ascii=ascii_only).encode()


def post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def swallowed_failures(bot: Bot) -> int:
    """Messages whose processing raised inside Rasa: the REST channel then answers 200
    with no reply, so the count in the log is what shows them."""
    log = bot.log_dir / "rasa.log"
    return log.read_text(errors="replace").count("rest.message.received.failure") if log.exists() else 0


@pytest.mark.slow
def test_live_mixed_requests_never_get_a_5xx_and_the_bot_keeps_answering(
        bot: Bot, rest: RestClient) -> None:
    rng = random.Random(8)
    senders = [f"fuzz-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    plan = [(rng.random() < 0.3, rng.choice(senders)) for _ in range(LIVE_REQUESTS)]
    bodies = [valid_body(rng, s) if valid else invalid_bodies(rng, s) for valid, s in plan]
    url = f"{bot.url}/webhooks/rest/webhook"
    failures_before = swallowed_failures(bot)
    deadline = time.monotonic() + LIVE_BUDGET_S
    statuses: list[tuple[bool, int]] = []
    silent: list[bytes] = []
    guard = threading.Lock()
    locks = {sender: threading.Lock() for sender in senders}  # one message per user at a time

    def send(index: int) -> None:
        if time.monotonic() > deadline:
            return
        valid, sender = plan[index]
        with locks[sender]:
            status, reply = post(url, bodies[index])
        with guard:
            statuses.append((valid, status))
            if valid and status == 200 and not json.loads(reply):
                silent.append(bodies[index][:120])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, range(LIVE_REQUESTS)))

    server_errors = [status for _, status in statuses if status >= 500]
    refused_valid = [status for valid, status in statuses if valid and status != 200]
    print(f"live: {len(statuses)} requests, "
          f"{sum(1 for v, _ in statuses if v)} valid, statuses "
          f"{sorted({s: sum(1 for _, x in statuses if x == s) for _, s in statuses}.items())}")
    assert not server_errors, f"{len(server_errors)} responses were 5xx"
    assert not refused_valid, refused_valid[:10]
    assert not silent, f"valid messages without any reply: {silent[:5]}"
    assert swallowed_failures(bot) == failures_before, "Rasa failed on some message (see rasa.log)"
    log = (bot.log_dir / "rasa.log").read_text(errors="replace")
    assert not re.search(r"\d{8}-ABCD", log), "an Access-ID-like string reached the log unmasked"
    assert len(statuses) >= 200, "the live run sent too few requests within its time budget"

    # Each fuzzed conversation still answers, and a normal conversation works.
    for sender in senders[:5]:
        assert rest.send(sender, "ありがとうございます").replies
    fresh = rest.new_sender()
    turn = rest.send(fresh, "特典をアクティブ化する方法を教えてください")
    assert turn.slots["diagnosis"] == "activate_benefits" and turn.slots["language"] == "ja"
    turn = rest.send(fresh, '/guide_next{"step": 1}')
    assert turn.slots["guide_step"] == 1
