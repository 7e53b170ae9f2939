"""The clause classifier (actions/clauses.py) on messages written for these tests, none
of them in data/nlu/."""

from __future__ import annotations

import pytest

from actions.clauses import clause_intents, clauses, is_elliptic_follow_up, likeliest_intent, nlu_examples


@pytest.mark.parametrize(("text", "expected"), [
    ("TPDとは？それから有償プランも教えて", ["TPDとは？", "それから有償プランも教えて"]),
    ("TPD の意味と、有償プランの種類を教えて", ["TPD の意味と", "有償プランの種類を教えて"]),
    ("访问 ID 在哪？另外剩余事件怎么查", ["访问 ID 在哪？", "另外剩余事件怎么查"]),
    ("本地产品的请求怎么提交，还有剩余事件在哪里看", ["本地产品的请求怎么提交", "还有剩余事件在哪里看"]),
    # Inside a clause "还有" is "still have", "以及" is "and".
    ("合同没有过期，事件也还有很多", ["合同没有过期，事件也还有很多"]),
    ("本地以及云的支持各有几个事件", ["本地以及云的支持各有几个事件"]),
    ("ゴールドです", ["ゴールドです"]),
    ("特典をアクティブ化する方法と、残数の確認方法を教えて",
     ["特典をアクティブ化する方法と", "残数の確認方法を教えて"]),
    ("残っているインシデント数の調べ方と、TPD が何なのかを教えてください",
     ["残っているインシデント数の調べ方と", "TPD が何なのかを教えてください"]),
    ("CSPとSignatureはそれぞれどう違う？", ["CSPと", "Signatureはそれぞれどう違う？"]),
    ("TPD 和 Premier 支持各自指什么", ["TPD 和", "Premier 支持各自指什么"]),
    ("ゴールドだとオンプレとクラウドはそれぞれ何件？", ["ゴールドだとオンプレとクラウドはそれぞれ何件？"]),
    ("デプロイ支援サービスと Premier はそれぞれ何？", ["デプロイ支援サービスと Premier はそれぞれ何？"]),
    ("售前部署服务和 Premier 各自是什么", ["售前部署服务和", "Premier 各自是什么"]),
    ("シルバーで何件使えるのかと、アクセスIDの場所も知りたい",
     ["シルバーで何件使えるのかと", "アクセスIDの場所も知りたい"]),
    ("使えるインシデント数を知りたいのと、TPDが何なのかも教えてほしいです",
     ["使えるインシデント数を知りたいのと", "TPDが何なのかも教えてほしいです"]),
    ("TPD と Premier Support for Partners、それぞれどういうものか教えてください",
     ["TPD と", "Premier Support for Partners、それぞれどういうものか教えてください"]),
    ("リクエストを出したいんですが、残り件数の見方も教えてください",
     ["リクエストを出したいんですが", "残り件数の見方も教えてください"]),
    ("エラーが出るんですが、どうすればいいですか", ["エラーが出るんですが、どうすればいいですか"]),
    ("要是合同过期了，能续费吗", ["要是合同过期了", "能续费吗"]),
    ("期限が切れた場合って、どうなりますか", ["期限が切れた場合って", "どうなりますか"]),
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
    # "在哪能看到" asks where to see; it does not say where something was seen.
    ("TPD 是指什么？另外合同 ID 平时在哪能看到", "ask_tpd", "ask_access_contract_ids"),
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
    ("TPDとPremierサポートについて、それぞれ簡単に教えて", "ask_tpd", "ask_paid_plans"),
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


def spans_of(text: str, *values: str) -> list[tuple[int, int]]:
    return [(text.index(value), text.index(value) + len(value)) for value in values]


@pytest.mark.parametrize(("text", "values", "elliptic"), [
    ("クラウドの場合はどうですか？", ["クラウド"], True),
    ("じゃあ、シルバーの場合はいかがでしょうか", ["シルバー"], True),
    ("ゴールドだったら？", ["ゴールド"], True),
    ("もしシルバーだったらどうなりますか？", ["シルバー"], True),
    ("那云呢？", ["云"], True),
    ("如果是银牌的话呢", ["银牌"], True),
    ("那金牌的云支持呢", ["金牌", "云"], True),
    ("わかりました。オンプレの製品はどうですか", ["オンプレ"], True),
    ("好的，那本地产品呢", ["本地"], True),
    ("如果换成本地产品呢？", ["本地"], True),
    # A question of its own about the value, or the value alone.
    ("シルバーだと何件使えますか", ["シルバー"], False),
    ("クラウドの場合のリクエストの出し方は？", ["クラウド"], False),
    ("云支持怎么申请呢", ["云"], False),
    ("クラウド", ["クラウド"], False),
    ("それはどうですか", [], False),
    ("わかりました。オンプレの製品のリクエストはどう出しますか", ["オンプレ"], False),
])
def test_a_what_about_asks_only_about_other_values(text: str, values: list[str], elliptic: bool) -> None:
    assert is_elliptic_follow_up(text, spans_of(text, *values)) is elliptic


@pytest.mark.parametrize("text", ["如果事件都用完了，还有什么付费选项？",
                                  "インシデントを使い切った場合は？有償のサポートはありますか？"])
def test_a_condition_asks_what_its_main_clause_asks(text: str) -> None:
    assert [intent for intent, _ in clause_intents(text)] == ["ask_paid_plans", "ask_paid_plans"]


def test_a_clause_without_the_words_its_intent_needs_is_not_read_as_it() -> None:
    # Remaining incidents need a word of what is left (config.yml, IntentNeedsWords).
    first, _ = clause_intents("インシデントの数を確認したいです。うちはゴールドです")
    assert first[0] != "ask_remaining_incidents"
    assert clause_intents("残りのインシデントを確認したいです。うちはゴールドです")[0][0] == \
        "ask_remaining_incidents"
