"""Rules that correct the intent classifier where a message's own words decide.

- SupportKindIntents: "How do I open a support request?" reads the same for on-premises
  and cloud products, so the classifier sometimes ranks the wrong one first ("クラウド製品
  のトラブルで…パートナー特典で出せますか" as the on-premises request). When the message
  names exactly one support kind (entity `support_kind`, negations resolved: "Azure では
  なくオンプレ" is on-premises) and the top intent is the request intent of the other kind,
  the two swap places in the ranking. Both kinds named, or none: the classifier's reading.
- IntentNeedsWords: an intent that stands for one exact error message ("This access ID is
  already associated…") is not the reading of a message without any of that message's
  words ("Azure VM が AllocationFailed エラーで起動しない" is a product problem, not the
  access-ID error); the next intent whose words the message has takes its place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.language import lacks_words
from components.support_kinds import REQUEST_INTENTS


def reranked(ranking: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """The ranking with `wanted` and the top intent swapped (names and confidences)."""
    top = ranking[0]
    other = next((item for item in ranking if item["name"] == wanted),
                 {"name": wanted, "confidence": 0.0})
    swapped = [{"name": wanted, "confidence": top["confidence"]},
               {"name": top["name"], "confidence": other["confidence"]}]
    rest = [item for item in ranking[1:] if item["name"] != wanted]
    return [swapped[0], *sorted([swapped[1], *rest], key=lambda item: -item["confidence"])]


class IntentRule(GraphComponent, ABC):
    """A rule that may put another intent in the top intent's place (`wanted`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentRule:
        return cls(config)

    @abstractmethod
    def wanted(self, message: Message, top: str | None) -> str | None:
        """The intent that should be on top instead of `top`, or None."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            wanted = self.wanted(message, intent.get("name"))
            if wanted and wanted != intent.get("name"):
                ranking = reranked(message.get(INTENT_RANKING_KEY) or [intent], wanted)
                message.set(INTENT, ranking[0], add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SupportKindIntents(IntentRule):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def wanted(self, message: Message, top: str | None) -> str | None:
        kinds = {entity.get("value") for entity in message.get(ENTITIES) or []
                 if entity.get("entity") == "support_kind"}
        if top not in REQUEST_INTENTS.values() or len(kinds) != 1:
            return None
        return REQUEST_INTENTS.get(str(next(iter(kinds))))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class IntentNeedsWords(IntentRule):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # intent → words of which a message of that intent has at least one (config.yml)
        return {"needs": {}}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._needs: dict[str, list[str]] = {intent: list(map(str, words))
                                             for intent, words in config["needs"].items()}

    def wanted(self, message: Message, top: str | None) -> str | None:
        ranking = message.get(INTENT_RANKING_KEY) or []
        text = message.get(TEXT) or ""

        def has_words(intent: str) -> bool:
            return not lacks_words(text, self._needs.get(intent, []))

        if len(ranking) < 2 or has_words(top or ""):
            return None
        # The next intent whose words the message has (the runner-up may need words too).
        return next((str(item["name"]) for item in ranking[1:] if has_words(str(item["name"]))), None)
