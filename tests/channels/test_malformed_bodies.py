"""Bad input on the Teams and Slack webhooks: authentic requests (valid token / signature)
whose bodies are malformed, and generated mutations of real activities and events.

Whatever the body, the answer is a 2xx or a 4xx, never a 5xx, and anything handed to Rasa
is a well-formed message. Bodies with bad signatures are covered in the unit tests.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.slack import SlackChannelInput, action_message, event_message, team_of
from channels.teams import TeamsInput, incoming_text, message_metadata, sender_key
from tests.channels import fakes
from tests.channels.conftest import serve_channel, slack_env, teams_env
from tests.channels.fakes import FakeBotFramework, FakeSlack

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=12,
)

# Bodies no real client sends; each must get a clear 4xx (or a 2xx "nothing to do").
RAW_BODIES: list[bytes] = [
    b"", b"null", b"[]", b"{}", b"42", b'"text"', b"{", b"\xff\xfe\x00garbage",
    b'{"type": "message", "text": "\xff"}', b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"type": "message", "text": "x" * 1_000_000}).encode(),
    json.dumps({"type": "message", "text": "\x00\x01\x1b[31m"}).encode(),
]


def mutations(template: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The template with one field, at any depth, replaced by arbitrary JSON."""
    paths: list[tuple[Any, ...]] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, (*path, key))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, (*path, index))

    walk(template, ())

    def replace(path: tuple[Any, ...], new: Any) -> dict[str, Any]:
        if not path:
            return new if isinstance(new, dict) else {"type": new}
        copy = json.loads(json.dumps(template))
        parent = copy
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = new
        return copy

    return st.builds(replace, st.sampled_from(paths[1:] or [()]), JSON)


def _slack_templates() -> list[dict[str, Any]]:
    button = {"action_id": "button_0", "value": '/guide_next{"step": 1}', "type": "button",
              "text": {"type": "plain_text", "text": "次へ"}, "action_ts": "1700000000.1"}
    click = fakes.slack_block_actions("U1", "D024BE91L", {"ts": "1700000000.000100"}, button)
    return [fakes.slack_event(fakes.slack_dm("U1", "こんにちは")),
            fakes.slack_event(fakes.slack_mention("U1", "你好")),
            json.loads(parse_qs(click.decode())["payload"][0])]


def _teams_template() -> dict[str, Any]:
    return fakes.teams_activity("https://smba.example", "こんにちは")


def _check_slack(body: dict[str, Any]) -> None:
    for parse in (event_message, action_message):
        incoming = parse(body)
        if incoming is not None:
            assert all(isinstance(v, str) for v in (incoming.text, incoming.user,
                                                    incoming.channel, incoming.sender))
            assert incoming.thread_ts is None or isinstance(incoming.thread_ts, str)
    team = team_of(body)
    assert team is None or isinstance(team, str)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(*(mutations(t) for t in _slack_templates())) | st.dictionaries(st.text(max_size=8), JSON))
def test_slack_parsers_take_any_json_shape(body: dict[str, Any]) -> None:
    _check_slack(body)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutations(_teams_template()) | st.dictionaries(st.text(max_size=8), JSON))
def test_teams_parsers_take_any_json_shape(activity: dict[str, Any]) -> None:
    text = incoming_text(activity)
    assert text is None or (isinstance(text, str) and text)
    assert isinstance(sender_key(activity), str)
    assert all(isinstance(v, str) for v in message_metadata(activity).values())


@pytest.fixture
def slack_channel(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> SlackChannelInput:
    for name, value in slack_env(fake_slack).items():  # with a workspace allow-list
        monkeypatch.setenv(name, value)
    return SlackChannelInput.from_credentials(None)


@pytest.fixture
def teams_channel(fake_bf: FakeBotFramework, monkeypatch: pytest.MonkeyPatch) -> TeamsInput:
    for name, value in teams_env(fake_bf).items():  # with a tenant allow-list
        monkeypatch.setenv(name, value)
    return TeamsInput.from_credentials(None)


async def test_signed_malformed_slack_bodies_get_a_4xx_or_2xx(slack_channel: SlackChannelInput) -> None:
    bodies = RAW_BODIES + [json.dumps(body).encode() for body in (
        {"type": "event_callback", "event": "not an object"},
        {"type": "event_callback", "event": {"type": "message", "channel_type": "im", "user": ["U1"],
                                             "channel": "D1", "text": "hi"}},
        {"type": "event_callback", "authorizations": {"0": "x"}, "authed_users": "U",
         "event": {"type": "app_mention", "user": "U1", "channel": "C1", "text": "<@U0> hi",
                   "subtype": ["x"], "thread_ts": {"a": 1}}},
        {"type": "block_actions", "actions": {"0": {}}, "user": "U1", "team": ["T0001"]},
        {"type": "block_actions", "actions": ["button"], "user": {"id": "U1"}, "channel": "C1"},
        {"type": "url_verification", "challenge": {"nested": True}},
        {"type": "event_callback", "team_id": ["T0001"], "user": "U1", "event": {}},
    )]
    form = b"payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A%22x%22%7D"
    async with serve_channel(slack_channel) as served, aiohttp.ClientSession() as session:
        for body in bodies:
            headers = fakes.slack_signed(body)
            async with session.post(f"{served.url}/webhook", data=body, headers=headers) as r:
                assert r.status < 500, (body[:80], r.status, await r.text())
        headers = fakes.slack_signed(form, content_type="application/x-www-form-urlencoded")
        async with session.post(f"{served.url}/webhook", data=form, headers=headers) as r:
            assert r.status < 500
        assert served.received == []


async def test_authentic_malformed_teams_bodies_get_a_4xx_or_2xx(
        teams_channel: TeamsInput, fake_bf: FakeBotFramework) -> None:
    service_url = fake_bf.service_url
    good = fakes.teams_activity(service_url, "こんにちは")
    bodies = RAW_BODIES + [json.dumps(body).encode() for body in (
        {**good, "conversation": "a string"},
        {**good, "from": ["list"], "recipient": 7},
        {**good, "entities": ["not", "objects"], "channelData": "x"},
        {**good, "channelData": {"tenant": ["t"]}, "conversation": {"id": ["c"], "tenantId": {}}},
        {**good, "type": "conversationUpdate", "membersAdded": [1, "x", None]},
        {**good, "value": ["payload"], "text": {"nested": "text"}},
        {**good, "locale": ["ja-JP"], "entities": [{"type": "clientInfo", "locale": 5}]},
    )]
    async with serve_channel(teams_channel) as served, aiohttp.ClientSession() as session:
        for body in bodies:
            headers = {"Authorization": f"Bearer {fake_bf.token()}", "Content-Type": "application/json"}
            async with session.post(f"{served.url}/webhook", data=body, headers=headers) as r:
                assert r.status < 500, (body[:80], r.status, await r.text())
        assert all(isinstance(m.text, str) and isinstance(m.sender_id, str) for m in served.received)
