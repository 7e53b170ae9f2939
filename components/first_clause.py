"""A message that asks two things is about the first one it asks.

"本地产品的请求怎么提交？还有，剩余事件在哪里看？" is classified as a whole, and the
classifier often ranks the later, more distinctive clause first (remaining incidents
0.86, the on-premises request 0.14). Partners put their main problem first, and the bot
answers the message's intent first and the other clause second (actions.second_topic),
so a question the first clause opens would be offered instead of asked. When each
clause is read on its own (actions/clauses.py, the same classifier and clause breaks as
the actions, trained here on the NLU data Rasa trains on) and the first clause clearly
asks another topic that the classifier also ranks, while a later clause asks the top
intent, the two swap places. A first clause the classifier does not rank at all
("こんにちは。TPDって何ですか？": greet 0.0) changes nothing.
"""

from __future__ import annotations

import pickle
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.pipeline import Pipeline

from actions.clauses import clause_probabilities, fit_clause_classifier
from components.intent_rules import IntentRule


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FirstClauseTopic(IntentRule):
    FILE_NAME = "clause_classifier.pkl"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "first_clause_confidence": 0.6,  # the first clause clearly asks its topic
            "later_clause_confidence": 0.45,  # a later clause asks the top intent
            "ranked_confidence": 0.05,  # the whole message's classifier ranks it too
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 classifier: Pipeline | None = None) -> None:
        super().__init__(config)
        self._storage = model_storage
        self._resource = resource
        self.classifier = classifier

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> FirstClauseTopic:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [(str(m.get(TEXT)), str(m.get(INTENT))) for m in training_data.intent_examples]
        self.classifier = fit_clause_classifier([text for text, _ in examples],
                                                [intent for _, intent in examples])
        with self._storage.write_to(self._resource) as directory:
            (directory / self.FILE_NAME).write_bytes(pickle.dumps(self.classifier))
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> FirstClauseTopic:
        with model_storage.read_from(resource) as directory:
            # Written by train() above into this model's own storage.
            classifier = pickle.loads((directory / cls.FILE_NAME).read_bytes())
        return cls(config, model_storage, resource, classifier)

    def wanted(self, message: Message, top: str | None) -> str | None:
        if self.classifier is None or top is None:
            return None
        rows = clause_probabilities(message.get(TEXT) or "", self.classifier)
        if not rows:
            return None
        first, confidence = max(rows[0].items(), key=lambda item: item[1])
        ranked = {item["name"]: item["confidence"] for item in message.get(INTENT_RANKING_KEY) or []}
        later_asks_top = any(max(row, key=row.__getitem__) == top
                             and row[top] >= self._config["later_clause_confidence"]
                             for row in rows[1:])
        if (first != top and confidence >= self._config["first_clause_confidence"]
                and later_asks_top and ranked.get(first, 0.0) >= self._config["ranked_confidence"]):
            return first
        return None
