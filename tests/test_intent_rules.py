"""The support kind a message names decides between the two request intents."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from actions.clauses import intent_needs, lacks_needed_words, nlu_examples
from components.intent_rules import IntentNeedsWords, SupportKindIntents


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


def reading_after_rule(text: str, ranking: list[tuple[str, float]]) -> str:
    """The intent IntentNeedsWords, configured as in config.yml, leaves on top."""
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    message = Message(data={"text": text, "intent": intents[0], "intent_ranking": intents})
    [message] = IntentNeedsWords({"needs": intent_needs()}).process([message])
    assert message.get("intent_ranking")[0] == message.get("intent")
    return str(message.get("intent")["name"])


@pytest.mark.parametrize(("text", "expected"), [
    ("Azure VMを起動しようとするとAllocationFailedエラーが出ます", "out_of_scope"),
    ("我们 Azure 上的虚拟机启动失败，报 AllocationFailed 错误", "out_of_scope"),
    ("アクセスＩＤはすでにかんれんづけられていますと出ます", "report_access_id_associated"),
    ("提示访问 ID 已关联", "report_access_id_associated"),
    ("既に関連付けられていますって出た", "report_access_id_associated"),
])
def test_the_access_id_error_needs_its_own_words(text: str, expected: str) -> None:
    ranking = [("report_access_id_associated", 0.6), ("out_of_scope", 0.3), ("greet", 0.1)]
    assert reading_after_rule(text, ranking) == expected


def test_every_training_example_has_a_word_its_intent_needs() -> None:
    """The rule never turns down what the trainers taught the classifier."""
    missing = [(intent, text) for text, intent in nlu_examples() if lacks_needed_words(intent, text)]
    assert missing == []


@pytest.mark.parametrize(("text", "expected"), [
    # How many the membership gives, in the words of checking.
    ("弊社で使えるサポートインシデント数を確認したいです", "ask_entitlement"),
    ("我们能用的支持事件数量想确认下", "ask_entitlement"),
    ("残りのインシデントを確認したい", "ask_remaining_incidents"),
    ("我们还剩几个事件", "ask_remaining_incidents"),
    ("契約の終了日はどこで見られますか", "ask_remaining_incidents"),
])
def test_remaining_incidents_need_a_word_of_what_is_left(text: str, expected: str) -> None:
    ranking = [("ask_remaining_incidents", 0.9), ("ask_entitlement", 0.05), ("greet", 0.05)]
    assert reading_after_rule(text, ranking) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Azure VMを起動しようとするとAllocationFailedエラーが出ます。原因わかりますか？", "out_of_scope"),
    ("アクティブ化ボタンを押してもエラーになります", "report_activation_failed"),
    ("点了激活按钮没反应", "report_activation_failed"),
])
def test_a_failed_activation_needs_a_word_of_activating(text: str, expected: str) -> None:
    """(The runner-up also needs words it lacks: the access-ID error.)"""
    ranking = [("report_activation_failed", 0.46), ("report_access_id_associated", 0.14),
               ("out_of_scope", 0.12), ("greet", 0.05)]
    assert reading_after_rule(text, ranking) == expected
