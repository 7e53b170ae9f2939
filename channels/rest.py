"""Rasa's REST channel with its input checked before it reaches the bot.

Same URL (/webhooks/rest/webhook) and the same request and reply format as the stock
channel; only malformed requests change: an empty body, `null`, `[]`, a non-string
message or sender, or a huge body now get a 4xx with a JSON reason instead of a 500 or a
swallowed traceback. The body is parsed with the standard library (strict UTF-8).

A sender ID is a key in the tracker and lock stores, so it must not contain control
characters or unpaired surrogates: Rasa 3.6's SQL tracker store turns the ValueError such
an ID raises (SQLite cannot encode a lone surrogate, PostgreSQL refuses NUL) into
`sys.exit`, i.e. one request would stop the whole server (measured). Messages keep
their text; NUL is removed and unpaired surrogates become U+FFFD.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.exceptions import SanicException
from sanic.request import Request

from channels.handoff import with_handoff
from channels.shapes import json_object

MAX_MESSAGE_CHARS = 50_000  # longer than any chat message; the bot answers >2,000 politely
MAX_SENDER_CHARS = 256
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class BadRequest(SanicException):
    status_code = 400
    quiet = True  # a refused request is the client's problem: no traceback in the log


class PayloadTooLarge(SanicException):
    status_code = 413
    quiet = True


def _storable_key(text: str) -> bool:
    """No control character (Cc, incl. NUL) and no unpaired surrogate (Cs)."""
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


def clean_message(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def checked_body(request: Request) -> dict[str, Any]:
    # Not request.json: Sanic parses with ujson, which turns some invalid UTF-8 into a str
    # holding code points above U+10FFFF that raises on use (found by the fuzz test).
    body = json_object(request.body)
    if body is None:
        raise BadRequest("the body must be a JSON object in UTF-8 with 'sender' and 'message'")
    sender, message = body.get("sender"), body.get("message")
    if (not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS
            or not _storable_key(sender)):
        raise BadRequest(f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} "
                         "characters without control characters")
    if not isinstance(message, str) or not clean_message(message).strip():
        raise BadRequest("'message' must be a non-empty string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise PayloadTooLarge(f"'message' must be at most {MAX_MESSAGE_CHARS} characters")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise BadRequest("'metadata' must be a JSON object")
    # Every later read of request.json sees this checked body. Sanic assigns the attribute
    # None in Request.__init__ without an annotation, so its inferred type is None.
    request.parsed_json = body  # type: ignore[assignment]
    return body


class SafeRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Any) -> Any:
        # A conversation handed off to a person bypasses Rasa (channels/handoff.py).
        return with_handoff(super().blueprint, on_new_message)

    async def _extract_sender(self, req: Request) -> str | None:
        # Called first by RestInput's handler, so every later read sees a checked body.
        return checked_body(req)["sender"]

    def _extract_message(self, req: Request) -> str | None:
        return clean_message(req.json["message"])

    def _extract_input_channel(self, req: Request) -> str:
        channel = req.json.get("input_channel")
        if isinstance(channel, str) and _CHANNEL_NAME.fullmatch(channel):
            return channel
        return self.name()
