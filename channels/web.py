"""Web chat widget channel: serves the widget's static files and a read-only history.

The widget talks to the stock REST channel (`POST /webhooks/rest/webhook`); this channel
only adds, under `/webhooks/web/`:

- `GET /`                      the stand-alone chat page (web/index.html)
- `GET /<file>`                the widget's static files (widget.js, widget.css, ...)
- `GET /history/<sender_id>`   the current conversation, read from the tracker store, so a
                               reload shows what the server has, not only a browser cache

Enable it in credentials.yml with the line `channels.web.WebChatInput:`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, Restarted, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.handoff import hub

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# Only conversations started by the widget can be read back: it names them
# "web-" + a random UUID, which works as an unguessable capability. Teams and Slack
# conversation ids (user ids, guessable) never match, so their history stays private.
WIDGET_SENDER = re.compile(r"^web-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The stand-alone page loads nothing but its own files and talks only to its own origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'"
)


def _file_response(request: Request, path: Path) -> HTTPResponse:
    """A static file with a validator, so browsers revalidate instead of refetching."""
    stat = path.stat()
    etag = '"' + hashlib.sha1(f"{stat.st_mtime_ns}-{stat.st_size}".encode()).hexdigest()[:16] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = PAGE_CSP
    if request.headers.get("if-none-match") == etag:
        return response.empty(status=304, headers=headers)
    return response.raw(path.read_bytes(), content_type=CONTENT_TYPES[path.suffix],
                        headers=headers)


def transcript(events: list[Any],
               relayed: list[tuple[float, str, str]] | None = None) -> list[dict[str, Any]]:
    """User and bot messages of a tracker's events, as the widget renders them.

    Messages before the last restart are dropped. A user message that is a button payload
    (e.g. `/guide_next{"step": 2}`) is shown with the button's title, as when clicked.
    `relayed`: (time, role, text) of the partner's messages to a person during a hand-off,
    which never reach the tracker (channels/handoff.py); they are put in time order.
    """
    messages: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    pending = [(at, text) for at, role, text in relayed or [] if role == "user"]
    for event in events:
        while pending and pending[0][0] <= event.timestamp:
            messages.append({"role": "user", "text": pending.pop(0)[1]})
        if isinstance(event, Restarted):
            messages, titles = [], {}
        elif isinstance(event, UserUttered) and event.text:
            messages.append({"role": "user", "text": titles.get(event.text, event.text)})
        elif isinstance(event, BotUttered):
            data = event.data or {}
            message: dict[str, Any] = {"role": "bot"}
            if event.text:
                message["text"] = event.text
            for key in ("buttons", "custom", "image"):
                if data.get(key):
                    message[key] = data[key]
            for button in data.get("buttons") or []:
                if isinstance(button, dict) and button.get("payload") and button.get("title"):
                    titles[str(button["payload"])] = str(button["title"])
            if len(message) > 1:
                messages.append(message)
    messages += [{"role": "user", "text": text} for _, text in pending]
    return messages


class WebChatInput(InputChannel):
    """Serves the web chat widget; messages themselves go through the REST channel."""

    @classmethod
    def name(cls) -> str:
        return "web"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        web = Blueprint("web_chat_widget", __name__)

        @web.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            # Sanic routes ".../web" (no slash) here and ".../web/" to `static` below.
            # The page's relative URLs (widget.js, page.css) need the slash.
            if not request.path.endswith("/"):
                query = f"?{request.query_string}" if request.query_string else ""
                return response.redirect(f"{request.path}/{query}")
            return _file_response(request, WEB_DIR / "index.html")

        @web.route("/<filename:str>", methods=["GET"])
        async def static(request: Request, filename: str) -> HTTPResponse:
            # One path segment, no dot files, known types only: nothing outside web/.
            path = WEB_DIR / (filename or "index.html")
            if (filename.startswith(".") or path.suffix not in CONTENT_TYPES
                    or not path.is_file()):
                return response.json({"error": "not found"}, status=404)
            return _file_response(request, path)

        @web.route("/history/<sender_id:str>", methods=["GET"])
        async def history(request: Request, sender_id: str) -> HTTPResponse:
            if not WIDGET_SENDER.match(sender_id):
                return response.json({"error": "unknown conversation"}, status=404)
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or agent.tracker_store is None:
                return response.json({"error": "no model loaded"}, status=503)
            tracker = await agent.tracker_store.retrieve(sender_id)
            if tracker is None:
                return response.json({"sender": sender_id, "language": None, "messages": []},
                                     headers={"Cache-Control": "no-store"})
            handoff = hub()
            live = handoff.store.live_for(sender_id) if handoff is not None else None
            relayed = handoff.store.relayed(sender_id, "user") if handoff is not None else []
            return response.json(
                {"sender": sender_id, "language": tracker.get_slot("language"),
                 "messages": transcript(list(tracker.events), relayed),
                 # While a person is (to be) there, the widget polls for their replies.
                 "handoff": live.status if live is not None else None},
                headers={"Cache-Control": "no-store"},
            )

        return web
