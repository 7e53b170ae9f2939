"""FirstClauseTopic on the project's NLU data: a message asking two things is about the
first one it asks, when its clauses read alone say so."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.clauses import clause_classifier
from components.first_clause import FirstClauseTopic, topic_intents


@pytest.fixture(scope="module")
def component() -> FirstClauseTopic:
    return FirstClauseTopic(FirstClauseTopic.get_default_config(), None, None,  # type: ignore[arg-type]  # storage unused once fit
                            clause_classifier(), topic_intents())


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
    # Read as a whole as the second question with the first far behind.
    ("Azureで困ったときにMicrosoftへサポートを頼む方法が知りたいです。ついでに、お金を払って受ける上位のサポートがあればそれも",
     [("ask_paid_plans", 0.92), ("ask_cloud_support", 0.05)], "ask_cloud_support"),
    # A condition ("if the incidents are used up") pulled the whole message to its own words.
    ("如果事件都用完了，还有什么付费选项？",
     [("ask_remaining_incidents", 0.54), ("ask_paid_plans", 0.24)], "ask_paid_plans"),
    # Read as a whole as neither clause's topic.
    ("激活按钮在哪里点？还有我们一共有多少个事件可以用",
     [("ask_remaining_incidents", 0.6), ("ask_activate_benefits", 0.18)], "ask_activate_benefits"),
])
def test_the_first_question_becomes_the_messages_intent(component: FirstClauseTopic, text: str,
                                                        ranking: list[tuple[str, float]],
                                                        first: str) -> None:
    top, second = read(component, text, ranking)
    assert top[0] == first and top[1] >= ranking[0][1] and top[1] - second[1] > 0.08


def test_two_topics_asked_in_turn_are_not_ambiguous(component: FirstClauseTopic) -> None:
    """Read as a whole 0.50 / 0.49 (the fallback's ambiguity); each clause asks one."""
    top, second = read(component, "我们一共能用多少个支持事件？顺便问下 TPD 是什么",
                       [("ask_entitlement", 0.50), ("ask_tpd", 0.49)])
    assert top[0] == "ask_entitlement" and top[1] - second[1] > 0.08


def test_a_topic_followed_by_facts_is_that_topic(component: FirstClauseTopic) -> None:
    top, _ = read(component, "Azure のサポートを受けたいです。ちなみにうちはゴールドです",
                  [("ask_entitlement", 0.9), ("ask_cloud_support", 0.05)])
    assert top[0] == "ask_cloud_support"


@pytest.mark.parametrize(("text", "ranking"), [
    # A greeting first: the classifier does not rank it.
    ("こんにちは。TPDって何ですか？", [("ask_tpd", 0.998), ("greet", 0.0)]),
    # The first clause already asks the top intent (its confidence may rise, not its place).
    ("アクセスIDって何ですか？あと、残りのインシデントはどこで見られますか？",
     [("ask_access_contract_ids", 0.9), ("ask_remaining_incidents", 0.1)]),
    # A later clause says it is the main question.
    ("TPDってそもそも何なんでしょう？それと本題なんですが、Azureでアクセス ID が関連付け済みと出ます",
     [("report_access_id_associated", 0.7), ("ask_tpd", 0.3)]),
    # One clause.
    ("本地产品的支持请求怎么提交", [("ask_onprem_request", 0.9), ("ask_remaining_incidents", 0.1)]),
])
def test_other_messages_keep_the_classifiers_reading(component: FirstClauseTopic, text: str,
                                                     ranking: list[tuple[str, float]]) -> None:
    assert [name for name, _ in read(component, text, ranking)] == [name for name, _ in ranking[:2]]


@pytest.mark.parametrize(("text", "ranking", "leads"), [
    ("云那边是几个？顺便帮我联系一下人工客服，合同续约的事想当面问",
     [("ask_entitlement", 1.0), ("request_human", 0.0)], "request_human"),
    ("ゴールドです。あと、担当の方とも話したいです", [("inform", 0.95), ("request_human", 0.03)],
     "request_human"),
    # Read as the request already: the first clause's topic does not take its place.
    ("有償プランについて教えてください。それから人につないでほしい",
     [("request_human", 0.99), ("ask_paid_plans", 0.01)], "request_human"),
    # One clause: a topic that is the reason for the request.
    ("有償プランの件で、できれば営業の方と直接お話ししたいのですが",
     [("ask_paid_plans", 0.9), ("request_human", 0.1)], "request_human"),
    ("担当者と話したら、期限切れだと言われました",
     [("report_access_id_associated", 0.9), ("request_human", 0.05)], "report_access_id_associated"),
    # A clause that tells of a talk asks for nobody.
    ("期限切れでした。担当者と話したら、そう言われました",
     [("report_access_id_associated", 0.9), ("request_human", 0.05)], "report_access_id_associated"),
])
def test_a_clause_asking_for_a_person_leads_the_message(component: FirstClauseTopic, text: str,
                                                        ranking: list[tuple[str, float]],
                                                        leads: str) -> None:
    top, _ = read(component, text, ranking)
    assert top[0] == leads
