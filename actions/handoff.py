"""Hand-off to a person: what the partner is told, and the named actions of its life.

Rasa has no custom event types, so a hand-off is recorded in the tracker with slots and
named actions (docs/channels.md "Hand-off to a person", the names the insights report
reads):

- `action_handoff` (as before) sets `diagnosis` = `human_handoff`; with a hand-off
  configured it also sets `handoff_id` and `handoff_status` = `waiting` (a staff channel,
  within office hours) or `missed` (outside office hours), and its `{"handoff": …}` custom
  payload carries the summary;
- `action_handoff_taken`, `action_handoff_missed`, `action_handoff_ended` are run by the
  Rasa server (channels/handoff.py) when a person takes it, nobody took it in time, or the
  person hands the conversation back; each sets `handoff_status` to taken / missed / ended.

Durations are the timestamps of these events.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from channels.handoff_settings import HandoffSettings


def handoff_reply(dispatcher: CollectingDispatcher, summary: dict[str, str],
                  payload: dict[str, Any]) -> list[EventType]:
    """What the partner is told when they ask for a person, and the hand-off's slots.

    Nothing configured: the summary and the addresses, as always. A staff channel within
    office hours: "a person will join"; outside them the summary at once (the staff post
    is marked missed).
    """
    settings = HandoffSettings.from_env()
    if not settings.enabled:
        dispatcher.utter_message(response="utter_handoff", **summary)
        dispatcher.utter_message(json_message={"handoff": payload})
        return []
    handoff_id = str(uuid.uuid4())
    if settings.staffed and settings.open_at(dt.datetime.now(dt.timezone.utc)):
        status = "waiting"
        dispatcher.utter_message(response="utter_handoff_waiting",
                                 minutes=max(1, math.ceil(settings.timeout_s / 60)))
    else:
        status = "missed" if settings.staffed else "notified"
        dispatcher.utter_message(response="utter_handoff", **summary)
    dispatcher.utter_message(json_message={"handoff": {
        **payload, "id": handoff_id, "status": status, "summary": summary}})
    return [SlotSet("handoff_id", handoff_id), SlotSet("handoff_status", status)]


def last_summary(tracker: Tracker) -> dict[str, str]:
    """The summary of the latest hand-off payload in the conversation."""
    for event in reversed(tracker.events):
        if event.get("event") != "bot":
            continue
        custom = (event.get("data") or {}).get("custom") or {}
        handoff = custom.get("handoff") if isinstance(custom, dict) else None
        if isinstance(handoff, dict) and isinstance(handoff.get("summary"), dict):
            return {key: str(value) for key, value in handoff["summary"].items()}
    return {}


class ActionHandoffTaken(Action):
    def name(self) -> str:
        return "action_handoff_taken"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_joined")
        return [SlotSet("handoff_status", "taken")]


class ActionHandoffMissed(Action):
    """Nobody took it: today's summary and Microsoft's support addresses."""

    def name(self) -> str:
        return "action_handoff_missed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        summary = last_summary(tracker)
        dispatcher.utter_message(response="utter_handoff_missed")
        if summary:
            dispatcher.utter_message(response="utter_handoff", **summary)
        return [SlotSet("handoff_status", "missed")]


class ActionHandoffEnded(Action):
    """The person handed the conversation back: the bot greets the partner again; every
    other slot stays, so the conversation goes on where it was."""

    def name(self) -> str:
        return "action_handoff_ended"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_back")
        return [SlotSet("handoff_status", "ended")]
