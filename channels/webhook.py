"""The skeleton the Teams and Slack inputs share: an env-configured webhook.

Each channel is configured from environment variables only (channels/settings.py), never
from credentials.yml; when its variables are unset the server still starts and both its
routes answer 503. A message is handed to Rasa in a background task, because both
platforms want the HTTP answer within seconds (Slack 3 s, the Bot Connector 15 s).

The subclasses do not derive from Rasa's stock connectors (`SlackInput`,
`BotFrameworkInput`): their constructors cannot be called as intended here
(`BotFrameworkInput.__init__` fetches Microsoft's keys with blocking HTTP at start-up and
raises when offline; `SlackInput.__init__` needs a token even when the channel is off), and
nothing else of theirs is used. `InputChannel` is the interface Rasa calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, ClassVar, Generic, TypeVar

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.handoff import with_handoff

logger = logging.getLogger(__name__)

SettingsT = TypeVar("SettingsT")
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class EnvWebhookInput(InputChannel, Generic[SettingsT]):
    """`GET /webhooks/<name>/` (health) and `POST /webhooks/<name>/webhook`; 503 when off."""

    title: ClassVar[str]  # "Teams", "Slack": for logs and the 503 body
    required_env: ClassVar[tuple[str, ...]]  # the variables that switch the channel on

    @classmethod
    def settings_from_env(cls) -> SettingsT | None:
        """The channel's settings, None when its required variables are unset."""
        raise NotImplementedError

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if credentials:
            logger.warning("%s.%s reads environment variables only; values in "
                           "credentials.yml are ignored", cls.__module__, cls.__qualname__)
        return cls(cls.settings_from_env())

    def __init__(self, settings: SettingsT | None) -> None:
        super().__init__()
        self.settings = settings
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[None]] = set()
        if settings is None:
            logger.info("%s channel off (%s unset)", self.title, "/".join(self.required_env))

    async def handle(self, request: Request, settings: SettingsT,
                     on_new_message: OnNewMessage) -> HTTPResponse:
        """Answer one authentic-or-not POST to the webhook of a configured channel."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release the channel's connections when the server stops (configured only)."""

    def in_background(self, work: Awaitable[Any], what: str) -> None:
        """Run `work` after the HTTP answer; a failure is logged with its traceback."""

        async def run() -> None:
            try:
                await work
            except Exception:  # nobody awaits this task: log, never lose the traceback
                logger.exception("%s could not be handled", what)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def off(self) -> HTTPResponse:
        return response.json({"status": f"{self.title} channel not configured"},
                             status=HTTPStatus.SERVICE_UNAVAILABLE)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        # A conversation handed off to a person bypasses Rasa (channels/handoff.py).
        return with_handoff(self._blueprint, on_new_message)

    def _blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint(f"{self.name()}_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return self.off() if self.settings is None else response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if self.settings is None:
                return self.off()
            return await self.handle(request, self.settings, on_new_message)

        @bp.listener("after_server_stop")
        async def close(*_: Any) -> None:
            if self.settings is not None:
                await self.close()

        return bp
