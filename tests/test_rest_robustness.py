"""Bad input, a failing action server and a restarted Rasa, against the real servers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from scripts.serve import Bot
from tests.support.rest import RestClient


def post_raw(bot: Bot, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{bot.url}/webhooks/rest/webhook", body,
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b"{}",
        b"not json",
        b"\xff\xfe\xfa",
        json.dumps({"sender": "x"}).encode(),
        json.dumps({"sender": "x", "message": 42}).encode(),
        json.dumps({"sender": "x", "message": ""}).encode(),
        json.dumps({"sender": 7, "message": "hi"}).encode(),
        json.dumps({"sender": "x", "message": "hi", "metadata": "ja"}).encode(),
        json.dumps({"sender": "x", "message": "あ" * 100_000}).encode(),
    ],
)
def test_malformed_requests_get_a_4xx_not_a_crash(bot: Bot, body: bytes) -> None:
    status, reply = post_raw(bot, body)
    assert 400 <= status < 500, (status, reply[:200])


def test_the_conversation_goes_on_after_bad_requests(bot: Bot, rest: RestClient) -> None:
    sender = rest.new_sender()
    post_raw(bot, json.dumps({"sender": sender, "message": None}).encode())
    turn = rest.send(sender, "特典をアクティブ化する方法を教えてください")
    assert turn.slots["diagnosis"] == "activate_benefits"


@pytest.mark.parametrize(
    ("text", "language"),
    [("お" * 3000, "ja"), ("您" * 3000, "zh"), ("制御\x07文字\x1bを含むメッセージです", "ja")],
)
def test_long_or_odd_messages_get_a_polite_answer(rest: RestClient, text: str, language: str) -> None:
    sender = rest.new_sender()
    turn = rest.send(sender, text)
    assert turn.replies and turn.text
    assert turn.slots["language"] == language


def test_action_server_down_gets_an_apology_then_recovers(bot: Bot, rest: RestClient) -> None:
    sender = rest.new_sender()
    first = rest.send(sender, "特典をアクティブ化する方法を教えてください")
    assert first.slots["guide_step"] == 0
    bot.stop_actions()
    try:
        down = rest.send(sender, '/guide_next{"step": 1}')
        assert down.text, "the partner must not be left without a reply"
        assert down.slots["guide_step"] == 0  # nothing skipped
    finally:
        bot.start_actions()
    again = rest.send(sender, '/guide_next{"step": 1}')
    assert again.slots["guide_step"] == 1
    repeated = rest.send(sender, '/guide_next{"step": 1}')
    assert repeated.slots["guide_step"] == 1  # a repeated "done" never skips a step


def test_a_restarted_server_continues_the_guide_at_the_same_step(bot: Bot, rest: RestClient) -> None:
    sender = rest.new_sender()
    rest.send(sender, "残りのインシデント数を確認したい")
    before = rest.send(sender, '/guide_next{"step": 1}')
    assert before.slots["guide"] == "remaining_incidents" and before.slots["guide_step"] == 1
    bot.stop_rasa()
    bot.start_rasa()
    after = rest.send(sender, '/guide_failed{"step": 2}')
    assert after.slots["guide_step"] == 1 and after.slots["guide_cause"] == 0
    assert after.slots["language"] == "ja"
