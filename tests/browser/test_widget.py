"""The web chat widget in a real Chromium against the real action server and Rasa server.

Run: .venv/bin/python -m pytest tests/browser -m browser
Screenshots: artifacts/screenshots/*.png
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Route, expect

from scripts.serve import Bot
from tests.browser.conftest import API_TOKEN, Portal

pytestmark = pytest.mark.browser

KANA = re.compile(r"[\u3040-\u30ff]")
HAN = re.compile(r"[\u4e00-\u9fff]")
REPLY_TIMEOUT = 60_000

# Messages in the partners' own words (see docs/diagnoses.md).
JA_ACTIVATE = "技術サポート特典を有効にする方法を教えてください"
JA_ACCESS_ID = "Azure ポータルで「このアクセス ID は既にアカウントに関連付けられています」と表示されます"


def is_japanese(text: str) -> bool:
    return bool(KANA.search(text))


def is_chinese(text: str) -> bool:
    return bool(HAN.search(text)) and not KANA.search(text)


def open_widget(page: Page, bot: Bot) -> None:
    page.goto(f"{bot.url}/webhooks/web/")
    expect(page.locator("textarea.mpn-input")).to_be_editable()


def is_webhook(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/webhooks/rest/webhook")


def send(page: Page, text: str) -> dict[str, Any]:
    """Types `text`, presses Enter, waits for the reply; returns the JSON that was posted."""
    box = page.locator("textarea.mpn-input")
    box.fill(text)
    with page.expect_request(is_webhook, timeout=REPLY_TIMEOUT) as posted:
        box.press("Enter")
    wait_idle(page)
    return json.loads(posted.value.post_data or "{}")


def wait_idle(page: Page) -> None:
    expect(page.locator(".mpn-typing")).to_be_hidden(timeout=REPLY_TIMEOUT)


def bot_texts(page: Page) -> list[str]:
    return page.locator(".mpn-bot:not(.mpn-welcome) .mpn-bubble").all_text_contents()


def sender_of(page: Page, bot: Bot) -> str:
    return str(page.evaluate(
        "key => JSON.parse(localStorage.getItem(key)).sender", f"mpnchat:v1:{bot.url}"))


def tracker(bot: Bot, sender: str) -> dict[str, Any]:
    url = f"{bot.url}/conversations/{sender}/tracker?include_events=ALL&token={API_TOKEN}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def shot(page: Page, screenshot_dir: Path, name: str) -> None:
    page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)


def test_japanese_message_gets_japanese_reply(page: Page, bot: Bot, screenshot_dir: Path) -> None:
    open_widget(page, bot)
    expect(page.locator(".mpn")).to_have_attribute("lang", "ja")  # UI from navigator.language
    expect(page.locator(".mpn-lang[lang=ja]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("textarea.mpn-input")).to_have_attribute("placeholder", re.compile("入力"))
    posted = send(page, JA_ACTIVATE)
    assert posted["metadata"] == {"language": "ja"}
    assert posted["sender"].startswith("web-")
    replies = bot_texts(page)
    assert replies and all(is_japanese(text) for text in replies), replies
    for lang in page.locator(".mpn-msg").evaluate_all("rows => rows.map(r => r.lang)"):
        assert lang == "ja"
    shot(page, screenshot_dir, "ja-reply")


@pytest.mark.parametrize("order", ["chrome", "safari"])
def test_ime_enter_never_sends_early(page: Page, bot: Bot, order: str) -> None:
    """Trusted IME events from Chromium's input pipeline (CDP), in both browsers' orders."""
    open_widget(page, bot)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.post_data or "") if is_webhook(r) else None)
    box = page.locator("textarea.mpn-input")
    box.focus()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "にほんご", "selectionStart": 4, "selectionEnd": 4})
    cdp.send("Input.imeSetComposition", {"text": "日本語", "selectionStart": 3, "selectionEnd": 3})
    enter = {"key": "Enter", "code": "Enter", "text": "\r", "unmodifiedText": "\r"}
    if order == "chrome":  # keydown (isComposing, keyCode 229) → compositionend → keyup
        # rawKeyDown: the IME consumes the key, so it carries no text of its own.
        cdp.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", "key": "Enter",
                                            "code": "Enter", "windowsVirtualKeyCode": 229})
        cdp.send("Input.insertText", {"text": "日本語"})
    else:  # Safari: compositionend first, then a keydown that looks like a plain Enter
        # (with its text: unless the widget stops it, it would also add a newline).
        cdp.send("Input.insertText", {"text": "日本語"})
        cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", **enter,
                                            "windowsVirtualKeyCode": 13})
    cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Enter", "code": "Enter",
                                        "windowsVirtualKeyCode": 13})
    page.wait_for_timeout(300)
    assert posts == []
    expect(box).to_have_value("日本語")
    expect(page.locator(".mpn-user")).to_have_count(0)

    box.press("Shift+Enter")  # a newline, not a send
    box.press_sequentially("です")
    page.wait_for_timeout(200)
    assert posts == []
    expect(box).to_have_value("日本語\nです")

    with page.expect_request(is_webhook):
        box.press("Enter")  # the confirmed text is sent by the next, real Enter
    assert json.loads(posts[0])["message"] == "日本語\nです"
    expect(page.locator(".mpn-user .mpn-bubble")).to_have_text("日本語\nです")
    wait_idle(page)


def test_click_a_button(page: Page, bot: Bot, screenshot_dir: Path) -> None:
    open_widget(page, bot)
    send(page, JA_ACCESS_ID)
    choices = page.locator(".mpn-msg:last-child .mpn-buttons button:enabled")
    assert choices.count() > 0, f"no buttons in the reply: {bot_texts(page)}"
    title = choices.first.text_content() or ""
    replies_before = len(bot_texts(page))
    with page.expect_request(is_webhook) as posted:
        choices.first.click()
    payload = json.loads(posted.value.post_data or "{}")["message"]
    assert payload.startswith("/"), payload  # the payload is sent...
    expect(page.locator(".mpn-user .mpn-bubble").last).to_have_text(title)  # ...the title shown
    wait_idle(page)
    assert len(bot_texts(page)) > replies_before
    expect(page.locator("textarea.mpn-input")).to_be_focused()
    shot(page, screenshot_dir, "buttons")


def test_reload_shows_history_from_server(page: Page, bot: Bot, screenshot_dir: Path) -> None:
    open_widget(page, bot)
    send(page, JA_ACCESS_ID)
    choices = page.locator(".mpn-msg:last-child .mpn-buttons button:enabled")
    if choices.count():
        choices.first.click()
        wait_idle(page)
    before = page.locator(".mpn-msg .mpn-bubble").all_text_contents()
    sender = sender_of(page, bot)
    # Keep only the sender id: what comes back after the reload comes from the tracker store.
    page.evaluate("""key => {
        const saved = JSON.parse(localStorage.getItem(key));
        localStorage.setItem(key, JSON.stringify({sender: saved.sender, messages: []}));
    }""", f"mpnchat:v1:{bot.url}")
    with page.expect_response(lambda r: "/webhooks/web/history/" in r.url):
        page.reload()
    expect(page.locator(".mpn-msg .mpn-bubble")).to_have_count(len(before))
    assert page.locator(".mpn-msg .mpn-bubble").all_text_contents() == before
    assert sender_of(page, bot) == sender
    # The conversation goes on with the same sender id after the reload.
    posted = send(page, "ありがとうございます")
    assert posted["sender"] == sender
    shot(page, screenshot_dir, "history-after-reload")


def test_switch_to_chinese_latin_first_message(page: Page, bot: Bot,
                                              screenshot_dir: Path) -> None:
    open_widget(page, bot)
    page.locator(".mpn-lang[lang=zh-Hans]").click()
    expect(page.locator(".mpn")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator(".mpn-lang[lang=zh-Hans]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("textarea.mpn-input")).to_have_attribute("placeholder", re.compile("输入"))
    expect(page.locator(".mpn-welcome")).to_have_attribute("lang", "zh-Hans")
    posted = send(page, "Azure access ID error")
    assert posted["metadata"] == {"language": "zh"}
    replies = bot_texts(page)
    assert replies and all(is_chinese(text) for text in replies), replies
    assert page.locator(".mpn-bot:not(.mpn-welcome)").first.get_attribute("lang") == "zh-Hans"
    assert tracker(bot, posted["sender"])["slots"]["language"] == "zh"
    shot(page, screenshot_dir, "zh-reply")


@pytest.mark.locale("zh-CN")
def test_chinese_browser_gets_chinese_ui(page: Page, bot: Bot) -> None:
    open_widget(page, bot)
    expect(page.locator(".mpn")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator(".mpn-send")).to_have_text("发送")
    # The choice is remembered across reloads.
    page.locator(".mpn-lang[lang=ja]").click()
    page.reload()
    expect(page.locator(".mpn-send")).to_have_text("送信")


def test_markup_is_shown_as_text(page: Page, bot: Bot, screenshot_dir: Path) -> None:
    attack = "<img src=x onerror=alert(1)>"
    open_widget(page, bot)
    send(page, attack)
    expect(page.locator(".mpn-user .mpn-bubble")).to_have_text(attack)
    page.wait_for_timeout(500)  # give an injected onerror time to fire (the page fixture fails)
    assert page.locator(".mpn img").count() == 0
    page.reload()  # and again when it comes back from the tracker store
    expect(page.locator(".mpn-user .mpn-bubble").first).to_have_text(attack)
    assert page.locator(".mpn img").count() == 0
    shot(page, screenshot_dir, "markup-as-text")


def test_rendering_links_newlines_typing(page: Page, bot: Bot, screenshot_dir: Path) -> None:
    """Rendering of bot replies, with the webhook answered by the test (content is fixed)."""
    pending: list[Route] = []
    page.route("**/webhooks/rest/webhook", lambda route: pending.append(route))
    open_widget(page, bot)
    page.locator("textarea.mpn-input").fill("手順")
    page.locator("textarea.mpn-input").press("Enter")
    expect(page.locator(".mpn-typing")).to_be_visible()  # while the server has not answered
    expect(page.locator(".mpn-send")).to_be_enabled()
    text = ("手順は次のとおりです。\n1. サインインします。\n2. [特典] > [技術特典] を開きます。\n"
            "詳細は https://partner.microsoft.com/ja-jp/support。を参照。"
            "[比較表](https://partner.microsoft.com/plans) / javascript:alert(1) / <b>太字</b>")
    replies = [{"recipient_id": "x", "text": text,
                "buttons": [{"title": "できました", "payload": '/guide_next{"step": 2}'}]},
               {"recipient_id": "x", "custom": {"text": "担当者に引き継ぎます", "summary": {}}},
               {"recipient_id": "x", "custom": {"handoff": {"diagnosis": "not_authorized"}}}]
    pending[0].fulfill(json=replies)
    wait_idle(page)
    bubble = page.locator(".mpn-bot:not(.mpn-welcome) .mpn-bubble").first
    assert "1. サインインします。\n2. " in (bubble.text_content() or "")
    assert bubble.evaluate("b => getComputedStyle(b).whiteSpace") == "pre-wrap"
    links = bubble.locator("a").evaluate_all(
        "as => as.map(a => [a.getAttribute('href'), a.target, a.rel])")
    assert links == [["https://partner.microsoft.com/ja-jp/support", "_blank", "noopener noreferrer"],
                     ["https://partner.microsoft.com/plans", "_blank", "noopener noreferrer"]]
    assert bubble.locator("b").count() == 0
    expect(page.locator(".mpn-custom")).to_have_text("担当者に引き継ぎます")
    expect(page.locator(".mpn-bot:not(.mpn-welcome)")).to_have_count(2)  # bare JSON: not shown
    expect(page.locator(".mpn-choice")).to_have_text("できました")
    shot(page, screenshot_dir, "rendering")


def test_restart_starts_a_new_conversation(page: Page, bot: Bot) -> None:
    open_widget(page, bot)
    send(page, JA_ACTIVATE)
    old = sender_of(page, bot)
    with page.expect_request(lambda r: is_webhook(r) and "/restart" in (r.post_data or "")):
        page.locator(".mpn-restart").click()
    expect(page.locator(".mpn-msg")).to_have_count(1)  # the welcome text only
    expect(page.locator(".mpn-welcome")).to_be_visible()
    new = sender_of(page, bot)
    assert new != old and new.startswith("web-")
    page.reload()
    expect(page.locator(".mpn-welcome")).to_be_visible()
    expect(page.locator(".mpn-user")).to_have_count(0)
    events = tracker(bot, old)["events"]
    assert any(event["event"] == "restart" for event in events)


def test_keyboard_and_narrow_screen(page: Page, bot: Bot, screenshot_dir: Path) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    open_widget(page, bot)
    send(page, JA_ACCESS_ID)
    log = page.locator(".mpn-log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_have_attribute("role", "log")
    # Nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.locator(".mpn-panel").evaluate("p => p.scrollWidth <= p.clientWidth")
    # Tab reaches every control in order; buttons work from the keyboard.
    page.locator(".mpn-lang[lang=ja]").focus()
    seen: list[str] = []
    while "mpn-send" not in seen and len(seen) < 40:
        seen.append(page.evaluate("""() => {
            const host = document.activeElement;
            const inner = host && host.shadowRoot && host.shadowRoot.activeElement;
            return inner ? inner.className : "(outside the widget)";
        }"""))
        page.keyboard.press("Tab")
    for expected in ("mpn-lang", "mpn-restart", "mpn-scroll", "mpn-input", "mpn-send"):
        assert expected in seen, seen
    assert seen.index("mpn-restart") < seen.index("mpn-input") < seen.index("mpn-send")
    choice = page.locator(".mpn-msg:last-child .mpn-buttons button:enabled")
    if choice.count():
        choice.first.focus()
        with page.expect_request(is_webhook):
            page.keyboard.press("Enter")
        wait_idle(page)
    shot(page, screenshot_dir, "narrow-360")


def portal_page(bot: Bot, attrs: str = "", config: str = "") -> str:
    """A partner portal page: one <script> tag, configured by data-* or window.MPNChat."""
    setup = f"<script>window.MPNChat = {config};</script>" if config else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Portal</title>'
            f'</head><body><h1>Partner portal</h1>{setup}'
            f'<script src="{bot.url}/webhooks/web/widget.js" {attrs} defer></script></body></html>')


def test_embedded_on_an_allowed_origin(page: Page, bot: Bot, portal: Portal,
                                       screenshot_dir: Path) -> None:
    portal.pages["/zh.html"] = portal_page(bot, 'data-language="zh" data-title="合作伙伴支持"')
    page.goto(f"{portal.listed_origin}/zh.html")
    launcher = page.locator(".mpn-launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(page.locator(".mpn-panel")).to_be_hidden()
    launcher.click()
    expect(page.locator(".mpn-panel")).to_be_visible()
    expect(page.locator(".mpn-title")).to_have_text("合作伙伴支持")
    expect(page.locator("textarea.mpn-input")).to_be_focused()
    posted = send(page, "你好")
    assert posted["metadata"] == {"language": "zh"}
    assert bot_texts(page), "no reply across origins (CORS?)"
    expect(page.locator(".mpn-error")).to_be_hidden()
    shot(page, screenshot_dir, "embedded-floating")
    page.keyboard.press("Escape")
    expect(page.locator(".mpn-panel")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_embedded_on_an_unlisted_origin_is_refused(page: Page, bot: Bot,
                                                   portal: Portal) -> None:
    """Rasa's CORS lists origins (--cors, CORS_ORIGINS), not "*": others get no reply."""
    portal.pages["/ja.html"] = portal_page(
        bot, config=json.dumps({"serverUrl": bot.url, "language": "ja", "title": "MPN サポート"}))
    page.goto(f"{portal.unlisted_origin}/ja.html")
    page.locator(".mpn-launcher").click()
    expect(page.locator(".mpn-title")).to_have_text("MPN サポート")
    box = page.locator("textarea.mpn-input")
    box.fill("こんにちは")
    box.press("Enter")
    expect(page.locator(".mpn-error")).to_be_visible()
    assert bot_texts(page) == []


def test_server_stopped_shows_error_then_retry(page: Page, bot: Bot,
                                               screenshot_dir: Path) -> None:
    """Stops Rasa itself (kept last in this file: it restarts the server afterwards)."""
    open_widget(page, bot)
    bot.stop_rasa()
    try:
        box = page.locator("textarea.mpn-input")
        box.fill(JA_ACTIVATE)
        box.press("Enter")
        error = page.locator(".mpn-error")
        expect(error).to_be_visible()
        expect(error).to_have_attribute("role", "alert")
        expect(error).to_contain_text("サーバーに接続できません")
        expect(page.locator(".mpn-retry")).to_be_visible()
        expect(page.locator(".mpn-user.mpn-failed")).to_have_count(1)
        shot(page, screenshot_dir, "server-unreachable")
    finally:
        bot.start_rasa()
    with page.expect_request(is_webhook):
        page.locator(".mpn-retry").click()
    wait_idle(page)
    expect(page.locator(".mpn-error")).to_be_hidden()
    expect(page.locator(".mpn-user.mpn-failed")).to_have_count(0)
    assert bot_texts(page)
