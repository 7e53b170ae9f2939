"""FirstClauseTopic on the project's NLU data: a message asking two things is about the
first one it asks, when its clauses read alone say so."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.clauses import clause_classifier
from components.first_clause import FirstClauseTopic


@pytest.fixture(scope="module")
def component() -> FirstClauseTopic:
    return FirstClauseTopic(FirstClauseTopic.get_default_config(), None, None,  # type: ignore[arg-type]  # storage unused once fit
                            clause_classifier())


def read(component: FirstClauseTopic, text: str, ranking: list[tuple[str, float]]) -> list[Any]:
    items = [{"name": name, "confidence": value} for name, value in ranking]
    message = Message(data={TEXT: text, INTENT: items[0], INTENT_RANKING_KEY: items})
    component.process([message])
    return [(item["name"], item["confidence"]) for item in message.get(INTENT_RANKING_KEY)][:2]


@pytest.mark.parametrize(("text", "ranking", "first"), [
    ("本地产品的请求怎么提交？还有，剩余事件在哪里看？",
     [("ask_remaining_incidents", 0.86), ("ask_onprem_request", 0.14)], "ask_onprem_request"),
    ("权益页面说看起来你还没有任何权益，另外 TPD 是什么？",
     [("ask_tpd", 0.66), ("report_no_benefits", 0.34)], "report_no_benefits"),
])
def test_the_first_question_becomes_the_messages_intent(component: FirstClauseTopic, text: str,
                                                        ranking: list[tuple[str, float]],
                                                        first: str) -> None:
    top, second = read(component, text, ranking)
    assert top == (first, ranking[0][1]) and second[0] == ranking[0][0]


@pytest.mark.parametrize(("text", "ranking"), [
    # A greeting first: the classifier does not rank it.
    ("こんにちは。TPDって何ですか？", [("ask_tpd", 0.998), ("greet", 0.0)]),
    # The first clause already asks the top intent.
    ("アクセスIDって何ですか？あと、残りのインシデントはどこで見られますか？",
     [("ask_access_contract_ids", 0.9), ("ask_remaining_incidents", 0.1)]),
    # One clause.
    ("本地产品的支持请求怎么提交", [("ask_onprem_request", 0.9), ("ask_remaining_incidents", 0.1)]),
])
def test_other_messages_keep_the_classifiers_reading(component: FirstClauseTopic, text: str,
                                                     ranking: list[tuple[str, float]]) -> None:
    assert read(component, text, ranking) == ranking[:2]
