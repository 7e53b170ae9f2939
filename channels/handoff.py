"""Hand-off to a person, in the Rasa server's channel layer (docs/channels.md "Hand-off").

Every input channel (REST/widget, Teams, Slack) hands its messages to `Hub.relaying(...)`
instead of straight to Rasa:

- a conversation with a live hand-off (waiting for or with a person): the partner's message
  goes, masked, to the staff thread and is stored in `handoff_relay`; Rasa never sees it
  (`ConversationPaused` would not stop NLU and slot filling);
- otherwise Rasa answers; if that answer started a hand-off (action_handoff's custom
  payload with an `id`), the hand-off is stored, posted to the Slack staff channel with a
  "take it" button, and queued for the webhook.

A person's thread reply is written into the partner's tracker as a bot utterance under the
conversation's lock (the widget polls its history; Teams and Slack partners also get it
proactively through the stored conversation reference). Taking, missing and ending run the
named actions of actions/handoff.py through Rasa's processor under the lock, so the
tracker records them. The "nobody took it" deadline is a stored time that a periodic task
of every replica checks (and the partner's next message too), never an in-process timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.policies.policy import PolicyPrediction
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sanic import Blueprint, Sanic

from channels.handoff_settings import HandoffSettings
from channels.handoff_store import Handoff, HandoffStore, engine_from_env
from components.redaction import mask_ids

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
OutputFactory = Callable[[dict[str, Any]], OutputChannel]
TAKE, END = "handoff_take", "handoff_end"
END_COMMANDS = ("!bot", "!end")  # typed in the staff thread: back to the bot
LANGUAGE_NAMES = {"ja": "Japanese (日本語)", "zh": "Chinese (中文)"}
MAX_BACKOFF_S = 600.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + HMAC-SHA256 of `<timestamp>.<body>` with the shared secret (hex)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def handoff_payload(events: list[Any]) -> dict[str, Any] | None:
    """The hand-off that the latest turn started: action_handoff's custom payload."""
    for event in reversed(events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, BotUttered):
            custom = (event.data or {}).get("custom")
            handoff = custom.get("handoff") if isinstance(custom, dict) else None
            if isinstance(handoff, dict) and handoff.get("id"):
                return handoff
    return None


def partner_messages(events: list[Any], count: int) -> list[str]:
    texts = [mask_ids(e.text) for e in events if isinstance(e, UserUttered) and e.text]
    return texts[-count:]


def reference_of(output: OutputChannel | None) -> dict[str, Any]:
    """How to reach the partner later: Teams' conversation reference, Slack's channel and
    thread; the widget needs none (it reads its history)."""
    if output is None:
        return {}
    if hasattr(output, "service_url") and hasattr(output, "conversation"):
        return {"serviceUrl": output.service_url, "conversation": output.conversation,
                "recipient": getattr(output, "bot", {}), "from": getattr(output, "user", {})}
    if hasattr(output, "slack_channel"):
        return {"channel": output.slack_channel, "thread_ts": getattr(output, "thread_id", None)}
    return {}


def staff_text(h: Handoff, note: str = "") -> str:
    p = h.payload
    summary = p.get("summary") or {}
    language = LANGUAGE_NAMES.get(h.language or "", h.language or "?")
    lines = [f"*Hand-off request* — partner's language: *{language}*",
             f"• Diagnosis: {summary.get('diagnosis_label', '-')} (`{p.get('diagnosis')}`)",
             f"• Known: {summary.get('known', '-')}",
             f"• Steps done: {summary.get('steps_done', '-')}",
             f"• Step that failed: {summary.get('step_failed', '-')}",
             f"• Channel: {h.channel} · hand-off `{h.id}`"]
    last = p.get("last_messages") or []
    if last:
        lines.append("Last partner messages:")
        lines += [f"> {text}" for text in last]
    if note:
        lines.append(note)
    return "\n".join(lines)


def staff_blocks(text: str, button: tuple[str, str, str] | None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "section",
                                     "text": {"type": "mrkdwn", "text": text[:3000]}}]
    if button:
        action_id, title, value = button
        blocks.append({"type": "actions", "block_id": "handoff", "elements": [{
            "type": "button", "action_id": action_id, "value": value, "style": "primary",
            "text": {"type": "plain_text", "text": title}}]})
    return blocks


class Hub:
    """The hand-off of one Rasa server process; state in the SQL store, shared by replicas."""

    def __init__(self, settings: HandoffSettings, store: HandoffStore) -> None:
        self.settings = settings
        self.store = store
        self.outputs: dict[str, OutputFactory] = {}  # channel name → output for a reference
        self.slack: Any = None  # the Slack channel's AsyncWebClient, for the staff channel
        self.app: Sanic | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- wiring ---------------------------------------------------------------------------

    def attach(self, bp: Blueprint) -> None:
        """Called by every channel's blueprint: learn the app, start one periodic task."""

        @bp.listener("after_server_start")
        async def started(app: Sanic, *_: Any) -> None:
            self.app = app
            if self._sweeper is None:
                self._sweeper = asyncio.create_task(self._sweep_forever())

        @bp.listener("before_server_stop")
        async def stopping(*_: Any) -> None:
            if self._sweeper is not None:
                self._sweeper.cancel()
                self._sweeper = None
            if self._http is not None:
                await self._http.close()
                self._http = None

    def relaying(self, on_new_message: OnNewMessage) -> OnNewMessage:
        async def handle(message: UserMessage) -> Any:
            live = self.store.live_for(message.sender_id) if message.sender_id else None
            if live is not None and live.status == "waiting" and self._overdue(live):
                await self.miss(live)
                live = None
            if live is not None:
                await self.from_partner(live, message)
                return None
            result = await on_new_message(message)
            await self._after_turn(message)
            return result

        return handle

    @property
    def agent(self) -> Any:
        return getattr(self.app.ctx, "agent", None) if self.app is not None else None

    def output_for(self, h: Handoff) -> OutputChannel:
        factory = self.outputs.get(h.channel)
        if factory is not None and h.reference:
            with contextlib.suppress(Exception):
                return factory(h.reference)
        return CollectingOutputChannel()  # the widget: it reads the tracker

    def _overdue(self, h: Handoff) -> bool:
        return h.deadline is not None and h.deadline <= time.time()

    def in_background(self, work: Awaitable[Any], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                logger.exception("hand-off: %s failed", what)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- start ----------------------------------------------------------------------------

    async def _after_turn(self, message: UserMessage) -> None:
        agent = self.agent
        if agent is None or agent.tracker_store is None:
            return
        tracker = await agent.tracker_store.retrieve(message.sender_id)
        if tracker is None:
            return
        events = list(tracker.events)
        payload = handoff_payload(events)
        if payload is None or self.store.get(str(payload["id"])) is not None:
            return
        payload = {**payload,
                   "last_messages": partner_messages(events, self.settings.last_messages)}
        status = str(payload.get("status") or "notified")
        h = Handoff(id=str(payload["id"]), sender_id=message.sender_id,
                    channel=message.input_channel or "rest", status=status,
                    language=payload.get("language"), payload=payload,
                    reference=reference_of(message.output_channel),
                    deadline=time.time() + self.settings.timeout_s
                    if status == "waiting" else None)
        if not self.store.create(h):
            return
        logger.info("hand-off %s started for %s (%s)", h.id, h.sender_id, status)
        if self.settings.staffed and self.slack is not None:
            note = ("_Missed: outside office hours; the partner got the summary and "
                    "Microsoft's support addresses._" if status == "missed" else "")
            ts = await self._post_staff(h, note, None if status == "missed"
                                        else (TAKE, "Take it", h.id))
            if ts:
                self.store.update(h.id, staff_ts=ts)
        if self.settings.webhook_url:
            self.store.enqueue(h.id, self.webhook_body(h))
            self.in_background(self.deliver_webhooks(), "webhook")

    async def _post_staff(self, h: Handoff, note: str,
                          button: tuple[str, str, str] | None) -> str | None:
        text = staff_text(h, note)
        try:
            answer = await self.slack.chat_postMessage(
                channel=self.settings.slack_channel, text=text,
                blocks=staff_blocks(text, button))
            return str(answer.get("ts") or "") or None
        except Exception as e:  # the partner still waits; the deadline still applies
            logger.error("hand-off %s: staff post failed: %r", h.id, e)
            return None

    async def _update_staff(self, h: Handoff, note: str,
                            button: tuple[str, str, str] | None = None) -> None:
        if self.slack is None or not h.staff_ts:
            return
        text = staff_text(h, note)
        try:
            await self.slack.chat_update(channel=self.settings.slack_channel, ts=h.staff_ts,
                                         text=text, blocks=staff_blocks(text, button))
        except Exception as e:
            logger.error("hand-off %s: staff post update failed: %r", h.id, e)

    async def _thread(self, h: Handoff, text: str) -> None:
        if self.slack is None or not h.staff_ts:
            return
        try:
            await self.slack.chat_postMessage(channel=self.settings.slack_channel,
                                              thread_ts=h.staff_ts, text=text)
        except Exception as e:
            logger.error("hand-off %s: thread post failed: %r", h.id, e)

    # --- the partner's side ---------------------------------------------------------------

    async def from_partner(self, h: Handoff, message: UserMessage) -> None:
        """Relayed to the staff thread, masked like stored messages; not through NLU."""
        text = mask_ids(message.text or "")
        if not text.strip():
            return
        self.store.add_relayed(h, "user", text)
        await self._thread(h, f"*Partner:* {text}")

    async def run_action(self, h: Handoff, action_name: str) -> None:
        """Runs one of actions/handoff.py's named actions in the partner's conversation under
        its lock, sends its messages to the partner's channel, and leaves the conversation
        listening (the next message is predicted as after any bot turn)."""
        agent = self.agent
        if agent is None or agent.processor is None:
            raise RuntimeError("no model loaded")
        processor = agent.processor
        output = self.output_for(h)
        async with agent.lock_store.lock(h.sender_id):
            tracker = await processor.fetch_tracker_and_update_session(h.sender_id, output)
            prediction = PolicyPrediction.for_action_name(agent.domain, action_name,
                                                          "handoff", 1.0)
            action = processor._get_action(action_name)
            await processor._run_action(action, tracker, output, agent.nlg, prediction)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            await processor.save_tracker(tracker)

    async def to_partner(self, h: Handoff, staff_user: str, text: str) -> None:
        """A person's thread reply: a bot utterance in the partner's tracker (under the lock),
        and sent at once where the channel can push (Teams, Slack)."""
        agent = self.agent
        if agent is None or agent.processor is None:
            raise RuntimeError("no model loaded")
        processor = agent.processor
        output = self.output_for(h)
        masked = mask_ids(text)
        async with agent.lock_store.lock(h.sender_id):
            tracker = await processor.fetch_tracker_and_update_session(h.sender_id, output)
            tracker.update(BotUttered(masked, data={}, metadata={
                "handoff": {"id": h.id, "staff": staff_user}}))
            if not isinstance(output, CollectingOutputChannel):
                await output.send_response(h.sender_id, {"text": masked})
            await processor.save_tracker(tracker)
        self.store.add_relayed(h, "staff", masked)

    # --- the staff's side -----------------------------------------------------------------

    async def take(self, handoff_id: str, staff_user: str) -> bool:
        if not self.settings.may_take(staff_user):
            h = self.store.get(handoff_id)
            if h is not None:
                await self._thread(h, f"<@{staff_user}> is not on the staff list "
                                      "(HANDOFF_STAFF_IDS) and cannot take it.")
            return False
        h = self.store.get(handoff_id)
        if h is None or h.status != "waiting":
            return False
        if self._overdue(h):
            await self.miss(h)
            return False
        if not self.store.transition(h.id, "waiting", "taken", staff_user=staff_user):
            return False  # someone else took it (or it was missed) a moment ago
        h.status, h.staff_user = "taken", staff_user
        await self.run_action(h, "action_handoff_taken")
        language = LANGUAGE_NAMES.get(h.language or "", h.language or "?")
        await self._update_staff(h, f"_Taken by <@{staff_user}>._ Reply in the thread; "
                                    "the partner reads in " + language + ".",
                                 (END, "Back to the bot", h.id))
        await self._thread(h, f"<@{staff_user}> took it. The partner writes in {language}. "
                              "Replies in this thread go to the partner (IDs masked); "
                              f"press *Back to the bot* or write `{END_COMMANDS[0]}` to end.")
        return True

    async def end(self, handoff_id: str, staff_user: str) -> bool:
        h = self.store.get(handoff_id)
        if h is None or not self.settings.may_take(staff_user):
            return False
        if not self.store.transition(h.id, "taken", "ended"):
            return False
        h.status = "ended"
        await self.run_action(h, "action_handoff_ended")
        await self._update_staff(h, f"_Ended by <@{staff_user}>: back to the bot._")
        return True

    async def miss(self, h: Handoff) -> bool:
        if not self.store.transition(h.id, "waiting", "missed"):
            return False
        h.status = "missed"
        logger.info("hand-off %s missed (nobody took it in %s s)", h.id, self.settings.timeout_s)
        await self.run_action(h, "action_handoff_missed")
        minutes = max(1, math.ceil(self.settings.timeout_s / 60))
        await self._update_staff(h, f"_Missed: nobody took it within {minutes} min; the "
                                    "partner got the summary and Microsoft's support "
                                    "addresses._")
        return True

    async def staff_event(self, body: dict[str, Any]) -> bool:
        """A Slack request from the staff channel: True when it was ours (handled in the
        background; Slack wants its answer within 3 s)."""
        channel = self.settings.slack_channel
        if not channel:
            return False
        if body.get("type") == "block_actions":
            action = (body.get("actions") or [{}])[0]
            where = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
                "channel_id")
            if where != channel or action.get("action_id") not in (TAKE, END):
                return False
            user, value = (body.get("user") or {}).get("id"), action.get("value")
            if isinstance(user, str) and isinstance(value, str):
                work = self.take(value, user) if action["action_id"] == TAKE else self.end(
                    value, user)
                self.in_background(work, f"{action['action_id']} {value}")
            return True
        event = body.get("event") or {}
        if body.get("type") != "event_callback" or event.get("channel") != channel:
            return False
        thread, user, text = event.get("thread_ts"), event.get("user"), event.get("text")
        if (event.get("bot_id") or event.get("subtype") or not thread
                or not isinstance(user, str) or not isinstance(text, str)):
            return True  # the staff channel's own chatter, our posts: nothing to do
        h = self.store.by_staff_ts(str(thread))
        if h is None or h.status != "taken" or not self.settings.may_take(user):
            return True
        if text.strip().lower() in END_COMMANDS:
            self.in_background(self.end(h.id, user), f"end {h.id}")
        else:
            self.in_background(self.to_partner(h, user, text), f"reply {h.id}")
        return True

    # --- deadlines and the webhook ----------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_interval_s)
            try:
                await self.sweep()
            except Exception:
                logger.exception("hand-off sweep failed")

    async def sweep(self) -> None:
        if self.agent is None or self.agent.processor is None:
            return
        for h in self.store.due(time.time()):
            await self.miss(h)
        await self.deliver_webhooks()

    def webhook_body(self, h: Handoff) -> dict[str, Any]:
        p = h.payload
        return {"event": "handoff.requested", "id": h.id, "conversation_id": h.sender_id,
                "channel": h.channel, "language": h.language, "status": h.status,
                "diagnosis": p.get("diagnosis"), "summary": p.get("summary"),
                "known": p.get("known"), "guide": p.get("guide"),
                "steps_done": p.get("steps_done"), "step_failed": p.get("step_failed"),
                "last_messages": p.get("last_messages"),
                "created_at": dt.datetime.fromtimestamp(h.created_at, dt.timezone.utc)
                .isoformat()}

    async def deliver_webhooks(self) -> None:
        settings = self.settings
        if not settings.webhook_url:
            return
        for row in self.store.outbox_due(time.time()):
            lease = time.time() + settings.webhook_timeout_s + 5
            if not self.store.claim(row.id, row.next_at, lease):
                continue  # another replica (or task) is sending it
            attempts = row.attempts + 1
            delivered, retry = await self._post_webhook(row.handoff_id, row.body.encode())
            if delivered:
                self.store.attempted(row.id, attempts, "delivered", time.time())
            elif not retry or attempts >= settings.webhook_max_attempts:
                logger.error("hand-off %s: webhook given up after %s attempts",
                             row.handoff_id, attempts)
                self.store.attempted(row.id, attempts, "failed", time.time())
            else:
                delay = min(settings.webhook_backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
                self.store.attempted(row.id, attempts, "pending", time.time() + delay)

    async def _post_webhook(self, handoff_id: str, body: bytes) -> tuple[bool, bool]:
        """(delivered, worth retrying). The key is the hand-off id: a receiver that got a
        retried delivery twice (e.g. it answered too late) sees the same key."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout_s))
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": handoff_id,
                   "X-Handoff-Timestamp": timestamp,
                   "X-Handoff-Signature": signature(self.settings.webhook_secret, timestamp,
                                                    body)}
        try:
            async with self._http.post(self.settings.webhook_url, data=body,
                                       headers=headers) as resp:
                if resp.status < 300:
                    return True, False
                logger.warning("hand-off %s: webhook answered %s", handoff_id, resp.status)
                return False, resp.status == 429 or resp.status >= 500 or resp.status == 408
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            logger.warning("hand-off %s: webhook failed: %r", handoff_id, e)
            return False, True


_hub: Hub | None = None
_hub_made = False


def hub() -> Hub | None:
    """The process's hub, or None when no hand-off is configured (the bot as before)."""
    global _hub, _hub_made
    if not _hub_made:
        _hub_made = True
        settings = HandoffSettings.from_env()
        if settings.enabled:
            _hub = Hub(settings, HandoffStore(engine_from_env()))
            logger.info("hand-off on (staff channel %s, webhook %s)",
                        settings.slack_channel or "none", bool(settings.webhook_url))
    return _hub


def with_handoff(make: Callable[[OnNewMessage], Blueprint],
                 on_new_message: OnNewMessage) -> Blueprint:
    """A channel's blueprint whose messages pass the hand-off relay when a hand-off is
    configured; with nothing configured, exactly the channel's own blueprint."""
    current = hub()
    if current is None:
        return make(on_new_message)
    bp = make(current.relaying(on_new_message))
    current.attach(bp)
    return bp
