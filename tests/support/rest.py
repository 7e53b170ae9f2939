"""A small client for the REST channel and the tracker API, used by the tests."""

from __future__ import annotations

import json
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class Turn:
    replies: list[dict[str, Any]]
    slots: dict[str, Any]

    @property
    def text(self) -> str:
        return "\n".join(reply.get("text") or "" for reply in self.replies)

    @property
    def payloads(self) -> list[str]:
        return [button["payload"] for reply in self.replies for button in reply.get("buttons") or []]


class RestClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    @staticmethod
    def new_sender() -> str:
        return f"test-{uuid.uuid4().hex[:12]}"

    def _request(self, path: str, body: Any = None, timeout: float = 60) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> Turn:
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        replies = self._request("/webhooks/rest/webhook", body)
        return Turn(replies=replies, slots=self.slots(sender))

    def tracker(self, sender: str) -> dict[str, Any]:
        return self._request(f"/conversations/{sender}/tracker?token={self.token}")

    def slots(self, sender: str) -> dict[str, Any]:
        return self.tracker(sender)["slots"]
