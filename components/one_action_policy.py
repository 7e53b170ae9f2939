"""Base of the project's untrained policies: each predicts, with certainty, one action
for the conversation's state (or nothing), decided by `next_action`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker


class OneActionPolicy(Policy, ABC):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> OneActionPolicy:
        return cls(config, model_storage, resource, execution_context)

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.next_action(tracker, domain)
        if action:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)

    @abstractmethod
    def next_action(self, tracker: DialogueStateTracker, domain: Domain) -> str | None:
        """The action to run next, or None to leave the prediction to the other policies."""


def topics(domain: Domain) -> dict[str, str]:
    """intent → the situation it names: the `from_intent` mappings of the slot `diagnosis`."""
    slot = next((slot for slot in domain.slots if slot.name == "diagnosis"), None)
    return {str(mapping["intent"]): str(mapping["value"]) for mapping in (slot.mappings if slot else [])
            if mapping.get("type") == "from_intent"}
