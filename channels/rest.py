"""Rasa's REST channel with its input checked before it reaches the bot.

Same URL (/webhooks/rest/webhook) and the same request and reply format as the stock
channel; only malformed requests change: an empty body, `null`, `[]`, a non-string
message or sender, or a huge body now get a 4xx with a JSON reason instead of a 500 or a
swallowed traceback.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.exceptions import SanicException
from sanic.request import Request

MAX_MESSAGE_CHARS = 50_000  # longer than any chat message; the bot answers >2,000 politely
MAX_SENDER_CHARS = 256


class BadRequest(SanicException):
    status_code = 400


class PayloadTooLarge(SanicException):
    status_code = 413


def checked_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json
    except Exception as error:  # Sanic raises its own error types for undecodable bodies
        raise BadRequest("the body must be a JSON object") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'sender' and 'message'")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise BadRequest(f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters")
    if not isinstance(message, str) or not message.strip():
        raise BadRequest("'message' must be a non-empty string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise PayloadTooLarge(f"'message' must be at most {MAX_MESSAGE_CHARS} characters")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise BadRequest("'metadata' must be a JSON object")
    return body


class SafeRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> str | None:
        # Called first by RestInput's handler, so every later read sees a checked body.
        return checked_body(req)["sender"]

    def _extract_message(self, req: Request) -> str | None:
        return req.json["message"].replace("\x00", "")

    def _extract_input_channel(self, req: Request) -> str:
        channel = req.json.get("input_channel")
        return channel if isinstance(channel, str) and channel else self.name()
