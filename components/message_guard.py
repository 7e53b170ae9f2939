"""Answers over-long messages with a polite request to shorten them.

A pasted log or a whole e-mail thread is not something the bot can triage, and its
analysis is bounded anyway (the tokenizer reads only `max_chars`). This policy outranks
the others for such a message: it predicts `utter_message_too_long`, then listens.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from components import rasa_patches
from components.one_action_policy import OneActionPolicy

TOO_LONG_RESPONSE = "utter_message_too_long"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class MessageLengthPolicy(OneActionPolicy):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Rasa builds this policy wherever it trains or loads this project's model (also
        # without endpoints.yml: `rasa shell`, `rasa test`, an Agent), so the project's
        # patches to Rasa (the action-failure apology, ...) are installed here too.
        rasa_patches.install()
        super().__init__(*args, **kwargs)

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 9, "max_chars": 2000}

    def next_action(self, tracker: DialogueStateTracker, domain: Domain) -> str | None:
        text = tracker.latest_message.text if tracker.latest_message else None
        if not text or len(text) <= self.config["max_chars"]:
            return None
        answered = tracker.latest_action_name == TOO_LONG_RESPONSE
        return ACTION_LISTEN_NAME if answered else TOO_LONG_RESPONSE
