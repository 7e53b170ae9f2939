"""channels/web.py: the history transcript (unit) and the routes (over HTTP, real bot)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from email.message import Message

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, Restarted, SlotSet, UserUttered

from channels.web import WIDGET_SENDER, transcript
from scripts.serve import Bot

BUTTONS = [{"title": "期限切れです", "payload": '/inform{"contract_state": "expired"}'}]


def test_transcript_shows_button_titles_and_drops_what_came_before_a_restart() -> None:
    events = [
        UserUttered("古い会話"), BotUttered("古い返事"),
        Restarted(),
        ActionExecuted("action_listen"),
        UserUttered("アクセス ID のエラー"),
        SlotSet("language", "ja"),
        BotUttered("どちらですか？", data={"buttons": BUTTONS}),
        UserUttered('/inform{"contract_state": "expired"}'),
        BotUttered("新しいプランが必要です。\nhttps://partner.microsoft.com/support"),
        BotUttered(None, data={"custom": {"handoff": {"diagnosis": "x"}}}),
        UserUttered("/unknown_payload"),
    ]
    assert transcript(events) == [
        {"role": "user", "text": "アクセス ID のエラー"},
        {"role": "bot", "text": "どちらですか？", "buttons": BUTTONS},
        {"role": "user", "text": "期限切れです"},
        {"role": "bot", "text": "新しいプランが必要です。\nhttps://partner.microsoft.com/support"},
        {"role": "bot", "custom": {"handoff": {"diagnosis": "x"}}},
        {"role": "user", "text": "/unknown_payload"},
    ]


def test_only_widget_conversation_ids_are_readable() -> None:
    assert WIDGET_SENDER.match(f"web-{uuid.uuid4()}")
    for other in ("29:1abc-teams-user", "U0123SLACK", "web-1", f"web-{uuid.uuid4()}/../x",
                  f"{uuid.uuid4()}"):
        assert not WIDGET_SENDER.match(other)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body of a GET."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.browser
def test_static_files_and_history_routes(bot: Bot) -> None:
    base = f"{bot.url}/webhooks/web"
    status, headers, body = get(f"{base}/")
    assert status == 200 and b'src="widget.js"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    status, headers, _ = get(f"{base}/widget.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert get(f"{base}/widget.js", {"If-None-Match": headers["ETag"]})[0] == 304
    for missing in ("/nope.js", "/.gitkeep", "/..%2Fcredentials.yml", "/%2e%2e/channels/web.py"):
        assert get(base + missing)[0] == 404, missing

    sender = f"web-{uuid.uuid4()}"
    assert json.loads(get(f"{base}/history/{sender}")[2])["messages"] == []
    assert get(f"{base}/history/someone-else")[0] == 404
    request = urllib.request.Request(
        f"{bot.url}/webhooks/rest/webhook", method="POST",
        data=json.dumps({"sender": sender, "message": "こんにちは",
                         "metadata": {"language": "ja"}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        replies = json.loads(response.read())
    history = json.loads(get(f"{base}/history/{sender}")[2])
    assert history["messages"][0] == {"role": "user", "text": "こんにちは"}
    shown = [m.get("text") for m in history["messages"][1:] if m.get("text")]
    assert shown == [r["text"] for r in replies if r.get("text")]
