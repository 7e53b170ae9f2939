"""The support kind a message names decides between the two request intents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message

from actions.clauses import nlu_examples
from components.intent_rules import IntentNeedsWords, SupportKindIntents
from components.language import fold_kana


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


NEEDS = {"needs": {"report_access_id_associated": ["アクセス", "access", "访问", "ID", "関連付け", "关联"]}}


@pytest.mark.parametrize(("text", "expected"), [
    ("Azure VMを起動しようとするとAllocationFailedエラーが出ます", "out_of_scope"),
    ("我们 Azure 上的虚拟机启动失败，报 AllocationFailed 错误", "out_of_scope"),
    ("アクセスＩＤはすでにかんれんづけられていますと出ます", "report_access_id_associated"),
    ("提示访问 ID 已关联", "report_access_id_associated"),
    ("既に関連付けられていますって出た", "report_access_id_associated"),
])
def test_the_access_id_error_needs_its_own_words(text: str, expected: str) -> None:
    ranking = [{"name": "report_access_id_associated", "confidence": 0.6},
               {"name": "out_of_scope", "confidence": 0.3}, {"name": "greet", "confidence": 0.1}]
    message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})
    [message] = IntentNeedsWords(NEEDS).process([message])
    assert message.get("intent")["name"] == expected
    assert message.get("intent_ranking")[0] == message.get("intent")


def configured_needs() -> dict[str, list[str]]:
    pipeline = yaml.safe_load(Path("config.yml").read_text(encoding="utf-8"))["pipeline"]
    return next(c for c in pipeline if c["name"].endswith("IntentNeedsWords"))["needs"]


def test_every_training_example_has_a_word_its_intent_needs() -> None:
    """The rule never turns down what the trainers taught the classifier."""
    needs = configured_needs()
    missing = [(intent, text) for text, intent in nlu_examples() if intent in needs
               and not any(fold_kana(word).lower() in fold_kana(text).lower() for word in needs[intent])]
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
    ranking = [{"name": "ask_remaining_incidents", "confidence": 0.9},
               {"name": "ask_entitlement", "confidence": 0.05}, {"name": "greet", "confidence": 0.05}]
    message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})
    [message] = IntentNeedsWords({"needs": configured_needs()}).process([message])
    assert message.get("intent")["name"] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Azure VMを起動しようとするとAllocationFailedエラーが出ます。原因わかりますか？", "out_of_scope"),
    ("アクティブ化ボタンを押してもエラーになります", "report_activation_failed"),
    ("点了激活按钮没反应", "report_activation_failed"),
])
def test_a_failed_activation_needs_a_word_of_activating(text: str, expected: str) -> None:
    """(The runner-up also needs words it lacks: the access-ID error.)"""
    ranking = [{"name": "report_activation_failed", "confidence": 0.46},
               {"name": "report_access_id_associated", "confidence": 0.14},
               {"name": "out_of_scope", "confidence": 0.12}, {"name": "greet", "confidence": 0.05}]
    message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})
    [message] = IntentNeedsWords({"needs": configured_needs()}).process([message])
    assert message.get("intent")["name"] == expected
