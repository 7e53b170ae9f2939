"""The LateAnswerPolicy on real Rasa trackers and the project's domain: a value for a
question answered "don't know" before is that question's late answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.late_answer_policy import LateAnswerPolicy

ROOT = Path(__file__).resolve().parents[1]
EXPIRED = {"entity": "contract_state", "value": "expired", "start": 7, "end": 13}


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def policy() -> LateAnswerPolicy:
    return LateAnswerPolicy.create(LateAnswerPolicy.get_default_config(), None, None,  # type: ignore[arg-type]  # unused by this policy
                                   ExecutionContext(GraphSchema({})))


def tracker(domain: Domain, before: Any, intent: str = "ask_remaining_incidents",
            entities: list[dict[str, Any]] | None = None,
            after: list[Event] | None = None) -> DialogueStateTracker:
    events: list[Event] = [SlotSet("diagnosis", "access_id_already_associated"),
                           SlotSet("contract_state", before), ActionExecuted("action_listen"),
                           UserUttered("我查了，合同已经没有剩余事件了",
                                       intent={"name": intent, "confidence": 0.97},
                                       entities=[EXPIRED] if entities is None else entities),
                           # action_extract_slots has applied the message's mappings
                           SlotSet("diagnosis", "remaining_incidents"),
                           SlotSet("contract_state", "expired"), *(after or [])]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


def predicted(policy: LateAnswerPolicy, domain: Domain, state: DialogueStateTracker) -> str | None:
    probabilities = policy.predict_action_probabilities(state, domain).probabilities
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return domain.action_names_or_texts[best] if probabilities[best] > 0 else None


def test_a_value_for_a_question_answered_dont_know_is_its_answer(policy: LateAnswerPolicy,
                                                                 domain: Domain) -> None:
    assert predicted(policy, domain, tracker(domain, "unknown")) == "action_handle_answer"


@pytest.mark.parametrize(("before", "intent", "entities", "after"), [
    (None, "ask_remaining_incidents", None, []),  # never asked: the topic's rule answers
    ("expired", "ask_remaining_incidents", None, []),  # the same answer again
    ("unknown", "ask_remaining_incidents", [], []),  # no value in the message
    ("unknown", "request_human", None, []),  # a person wins
    ("unknown", "ask_remaining_incidents", None, [ActiveLoop("access_id_form")]),  # a form asks
    ("unknown", "ask_remaining_incidents", None,
     [ActionExecuted("action_handle_answer")]),  # answered already this turn
])
def test_other_messages_are_left_to_the_rules(policy: LateAnswerPolicy, domain: Domain, before: Any,
                                              intent: str, entities: list[dict[str, Any]] | None,
                                              after: list[Event]) -> None:
    assert predicted(policy, domain, tracker(domain, before, intent, entities, after)) is None
