"""A message that asks two things is about the first one it asks.

"本地产品的请求怎么提交？还有，剩余事件在哪里看？" is classified as a whole, and the
classifier often ranks the later, more distinctive clause first (remaining incidents
0.86, the on-premises request 0.14). Partners put their main problem first, and the bot
answers the message's intent first and the other clause second (actions.second_topic),
so a question the first clause opens would be offered instead of asked. When each
clause is read on its own (actions/clauses.py, the same classifier and clause breaks as
the actions, trained here on the NLU data Rasa trains on) and the first clause clearly
asks a topic while a later clause asks another one (or only gives facts), the first
clause's topic leads. A first clause the classifier does not rank at all
("こんにちは。TPDって何ですか？": greet 0.0) changes nothing.

A request for a person wins over everything, also when a clause of a longer message
makes it ("云那边是几个？顺便帮我联系一下人工客服") or a topic is its reason ("新しいプランに
ついて、できれば営業の方と直接話したい"): a clause read as that request, with a word
for a person, one for being put through and one of asking (actions/content/cues.yml),
leads the message. The words keep out clauses that tell of a talk ("担当者と話したら、
期限切れだと言われました").
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.pipeline import Pipeline

from actions.clauses import CONDITION, MAIN_QUESTION, clause_probabilities, clauses, fit_clause_classifier
from actions.content import load_content
from components.one_action_policy import topics

DOMAIN = Path(__file__).resolve().parents[1] / "domain.yml"
# A later clause that only gives facts ("ちなみにうちはゴールドです").
FACTS_INTENT = "inform"
PERSON_INTENT = "request_human"


def topic_intents(domain: Path = DOMAIN) -> list[str]:
    """The intents that name a situation (read at training, stored in the model)."""
    return sorted(topics(Domain.load(domain)))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FirstClauseTopic(GraphComponent):
    FILE_NAME = "first_clause.pkl"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "first_clause_confidence": 0.6,  # the first clause clearly asks its topic
            "later_clause_confidence": 0.45,  # a later clause asks the top intent
            "person_clause_confidence": 0.6,  # a clause asks for a person
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 classifier: Pipeline | None = None, topics: list[str] | None = None) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self.classifier = classifier
        self.topics = set(topics or ())

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> FirstClauseTopic:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [(str(m.get(TEXT)), str(m.get(INTENT))) for m in training_data.intent_examples]
        self.classifier = fit_clause_classifier([text for text, _ in examples],
                                                [intent for _, intent in examples])
        self.topics = set(topic_intents())
        with self._storage.write_to(self._resource) as directory:
            (directory / self.FILE_NAME).write_bytes(pickle.dumps((self.classifier, sorted(self.topics))))
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> FirstClauseTopic:
        with model_storage.read_from(resource) as directory:
            # Written by train() above into this model's own storage.
            classifier, topics = pickle.loads((directory / cls.FILE_NAME).read_bytes())
        return cls(config, model_storage, resource, classifier, topics)

    def first_topic(self, text: str, top: str) -> tuple[str, float] | None:
        """The first clause's topic and its confidence, when it should lead the message."""
        rows = clause_probabilities(text, self.classifier) if self.classifier else []
        if not rows:
            return None
        parts = clauses(text)
        if any(MAIN_QUESTION.search(part) for part in parts[1:]):
            return None  # "それと本題なんですが、…": the later clause says it leads
        first, confidence = max(rows[0].items(), key=lambda item: item[1])
        if first in self.topics and first != top and CONDITION.search(parts[0]):
            # "如果事件都用完了，还有什么付费选项？": the condition's main clause asks, however
            # strongly the condition's own words ("事件") pulled the whole message.
            return first, confidence
        if first not in self.topics or confidence < self._config["first_clause_confidence"]:
            return None
        later = {name for name, p in (max(row.items(), key=lambda item: item[1]) for row in rows[1:])
                 if p >= self._config["later_clause_confidence"]}
        # A later clause asks another thing (or only gives facts): the first leads, whatever
        # the whole message was read as ("激活按钮在哪里点？还有我们一共有多少个事件可以用"
        # read as a third topic, the remaining incidents).
        return (first, confidence) if later - {first} else None

    def person_clause(self, text: str) -> tuple[str, float] | None:
        """The request for a person that a clause of the message makes, and its confidence
        (also when it is the top intent already: the first clause does not then lead)."""
        if self.classifier is None:
            return None
        parts = clauses(text)
        rows = clause_probabilities(text, self.classifier)
        if not rows:  # one clause: the message read alone
            parts = [text]
            rows = [dict(zip(map(str, self.classifier.classes_),
                             map(float, self.classifier.predict_proba([text])[0]), strict=True))]
        content = load_content()
        asked = [row.get(PERSON_INTENT, 0.0) for part, row in zip(parts, rows, strict=True)
                 if row.get(PERSON_INTENT, 0.0) >= self._config["person_clause_confidence"]
                 and all(content.says(part, words) for words in ("person", "person_request", "asking"))]
        return (PERSON_INTENT, max(asked)) if asked else None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            ranking = message.get(INTENT_RANKING_KEY) or []
            if not ranking:
                continue
            text, top_name = message.get(TEXT) or "", ranking[0]["name"]
            leading = self.person_clause(text) or self.first_topic(text, top_name)
            if leading is None:
                continue
            name, confidence = leading
            top = ranking[0]
            first = {"name": name, "confidence": max(confidence, top["confidence"])}
            # The former top takes the first topic's old place, so that the two are not
            # read as a tie ("ambiguous" to the FallbackClassifier).
            old = next((item["confidence"] for item in ranking if item["name"] == name), 0.0)
            rest = sorted(({**item, "confidence": min(item["confidence"], old)}
                           if item is top and top["name"] != name else item
                           for item in ranking if item["name"] != name),
                          key=lambda item: -item["confidence"])
            message.set(INTENT, first, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [first, *rest], add_to_output=True)
        return messages
