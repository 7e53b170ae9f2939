"""Reads a fact the partner comes back with as the answer to the question they could not
answer before.

"分からない" to "which of the two cases?" gets how to tell them apart; the partner checks
and comes back: "我查了，合同已经没有剩余事件了". Read alone, that is a question about
remaining incidents, and its rule would start that topic. When the message gives a
concrete value for a question answered "unknown" (the value of a form's slot), this
policy outranks the rules and sends the message to `action_handle_answer`, which treats
it as the late answer (the form runs again and answers).

A request for a person keeps its rule; so do the guide's own replies (a report on a step
is StepReportPolicy's).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.one_action_policy import OneActionPolicy

UNKNOWN = "unknown"
KEPT_INTENTS = ("request_human", "guide_next", "guide_failed", "guide_show_all")


def slots_before_latest_message(tracker: DialogueStateTracker) -> dict[str, Any]:
    """Slot values as they were when the partner sent the latest message."""
    values: dict[str, Any] = {}
    events = list(tracker.events)
    last_user = max((i for i, event in enumerate(events) if isinstance(event, UserUttered)),
                    default=len(events))
    for event in events[:last_user]:
        if isinstance(event, SlotSet):
            values[event.key] = event.value
    return values


def form_slots(domain: Domain) -> set[str]:
    """The slots some form asks for (the bot's questions)."""
    return {slot for form in domain.forms.values() for slot in form.get("required_slots") or []}


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class LateAnswerPolicy(OneActionPolicy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy (6), below StepReportPolicy (8).
        return {"priority": 7}

    def next_action(self, tracker: DialogueStateTracker, domain: Domain) -> str | None:
        message = tracker.latest_message
        if (message is None or tracker.active_loop_name
                or tracker.latest_action_name != ACTION_LISTEN_NAME
                or message.intent.get("name") in KEPT_INTENTS):
            return None
        before = slots_before_latest_message(tracker)
        asked = form_slots(domain)
        late = any(entity.get("entity") in asked and before.get(entity["entity"]) == UNKNOWN
                   and entity.get("value") not in (None, UNKNOWN)
                   for entity in message.entities)
        return "action_handle_answer" if late else None
