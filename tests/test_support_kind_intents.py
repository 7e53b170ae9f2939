"""The support kind a message names decides between the two request intents."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.support_kind_intents import SupportKindIntents


def parsed(intent: str, kinds: list[str]) -> Message:
    ranking = [{"name": intent, "confidence": 0.7},
               {"name": "ask_entitlement", "confidence": 0.2},
               {"name": "ask_cloud_support" if intent != "ask_cloud_support" else "ask_onprem_request",
                "confidence": 0.1}]
    entities: list[dict[str, Any]] = [{"entity": "support_kind", "value": kind} for kind in kinds]
    return Message(data={"text": "…", "intent": ranking[0], "intent_ranking": ranking,
                         "entities": entities})


@pytest.mark.parametrize(("intent", "kinds", "expected"), [
    ("ask_onprem_request", ["cloud"], "ask_cloud_support"),
    ("ask_cloud_support", ["on_premises"], "ask_onprem_request"),
    ("ask_onprem_request", ["on_premises"], "ask_onprem_request"),
    ("ask_onprem_request", ["both"], "ask_onprem_request"),  # both named: the classifier's
    ("ask_onprem_request", [], "ask_onprem_request"),
    ("ask_entitlement", ["cloud"], "ask_entitlement"),  # only the request intents swap
])
def test_the_named_support_kind_decides_the_request_intent(intent: str, kinds: list[str],
                                                           expected: str) -> None:
    component = SupportKindIntents(SupportKindIntents.get_default_config())
    [message] = component.process([parsed(intent, kinds)])
    assert message.get("intent")["name"] == expected
    ranking = message.get("intent_ranking")
    assert ranking[0] == message.get("intent") and ranking[0]["confidence"] == 0.7
    confidences = [item["confidence"] for item in ranking[1:]]
    assert confidences == sorted(confidences, reverse=True)
    assert {item["name"] for item in ranking} >= {intent, expected}
