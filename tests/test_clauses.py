"""The clause classifier (actions/clauses.py) on messages written for these tests, none
of them in data/nlu/."""

from __future__ import annotations

import pytest

from actions.clauses import clause_intents, clauses, likeliest_intent, nlu_examples


@pytest.mark.parametrize(("text", "expected"), [
    ("TPDとは？それから有償プランも教えて", ["TPDとは？", "それから有償プランも教えて"]),
    ("访问 ID 在哪？另外剩余事件怎么查", ["访问 ID 在哪？", "另外剩余事件怎么查"]),
    ("本地产品的请求怎么提交，还有剩余事件在哪里看", ["本地产品的请求怎么提交", "还有剩余事件在哪里看"]),
    # Inside a clause "还有" is "still have", "以及" is "and".
    ("合同没有过期，事件也还有很多", ["合同没有过期，事件也还有很多"]),
    ("本地以及云的支持各有几个事件", ["本地以及云的支持各有几个事件"]),
    ("ゴールドです", ["ゴールドです"]),
    ("特典をアクティブ化する方法と、残数の確認方法を教えて",
     ["特典をアクティブ化する方法と", "残数の確認方法を教えて"]),
    ("はい。", []),  # shorter than a question: no clause at all
])
def test_a_message_is_cut_at_question_marks_and_connectives(text: str, expected: list[str]) -> None:
    assert clauses(text) == expected


def test_training_examples_lose_their_annotation_markup() -> None:
    texts = [text for text, _ in nlu_examples()]
    assert texts and not any("]{" in text or "](" in text for text in texts)


@pytest.mark.parametrize(("text", "first", "second"), [
    ("コントラクトIDってどこで見られますか？あと、プレミアサポートについても知りたい",
     "ask_access_contract_ids", "ask_paid_plans"),
    ("激活按钮在哪里？另外 TPD 服务是什么意思", "ask_activate_benefits", "ask_tpd"),
    # A comparison asks more about the clause before it.
    ("TPDって何ですか？サポート インシデントとの違いは？", "ask_tpd", "ask_tpd"),
    # A clause that names no topic of its own asks about the one before it.
    ("ＡｃｃｅｓｓＩＤをメモしたのになくしちゃった。どこで見れる？",
     "ask_access_contract_ids", "ask_access_contract_ids"),
    ("合同 ID 我忘了。在哪里看？", "ask_access_contract_ids", "ask_access_contract_ids"),
    ("ＩＤはどこで見れますか？あと、残りは？", "ask_access_contract_ids", "ask_remaining_incidents"),
    # A clause that says where the partner saw it is background to the one before it.
    ("TPD 是什么意思？在技术权益页面里看到的", "ask_tpd", "ask_tpd"),
    ("プレミアってなんですか。パートナーセンターのページで見かけました", "ask_paid_plans",
     "ask_paid_plans"),
])
def test_each_clause_gets_its_own_topic(text: str, first: str, second: str) -> None:
    assert [intent for intent, _ in clause_intents(text)] == [first, second]


def test_a_single_clause_has_no_clause_topics() -> None:
    assert clause_intents("TPDって何ですか") == []


@pytest.mark.parametrize(("text", "intent"), [
    ("ぱーとなーせんたーで このあくしょんにたいしてしょうにんされていないといわれました",
     "report_not_authorized"),
    ("ぷれみあのさぽーとぷらんについておしえて", "ask_paid_plans"),
])
def test_kana_only_messages_get_a_confident_second_opinion(text: str, intent: str) -> None:
    found, probability = likeliest_intent(text)
    assert found == intent and probability >= 0.6
