"""Reports the message's language as the entity `language`, which fills the slot.

The slot is filled by Rasa's own `action_extract_slots` before any other action of the
turn runs, so every reply of the turn (responses and custom actions alike) is already
in that language. When the script does not decide, no entity is emitted and the
conversation keeps its language (the session-start action seeds it from the channel's
hint). Only runs at inference: training examples never get this entity.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.language import detect_language

LANGUAGE_ENTITY = "language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageEntityExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_chars": 2000}

    def __init__(self, config: dict[str, Any]) -> None:
        self._max_chars = config["max_chars"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageEntityExtractor:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            language = detect_language((message.get(TEXT) or "")[: self._max_chars])
            if language:
                entity = {"entity": LANGUAGE_ENTITY, "value": language, "start": 0, "end": 0,
                          "extractor": self.__class__.__name__}
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
