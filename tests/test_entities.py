"""The folded lookup extractor and the negation rule, on plain tables."""

from __future__ import annotations

from typing import Any

import pytest

from components.entities import (  # noqa: F401
    Lookup,
    build_lookups,
    competency_subjects,
    entities_in,
    find_entities,
    fold,
    resolve_negations,
)

TABLES = [
    {"name": "membership", "elements": ["ゴールド", "Gold", "シルバー", "金牌", "银牌", "金排"]},
    {"name": "support_kind", "elements": ["オンプレ", "クラウド", "Azure", "本地", "云"]},
    {"name": "competency_kind", "elements": ["Cloud Platform", "云资格", "其他资格"]},
    {"name": "partner_role", "elements": ["グローバル管理者", "一般ユーザー", "全局管理员"]},
    {"name": "contract_state", "elements": ["期限切れ", "前に追加", "关联过"]},
    {"name": "cloud_route", "elements": ["CSP", "署名クラウドサポート", "签名云支持"]},
    {"name": "competency_kind", "elements": ["セキュリティ", "Cloud Productivity"]},
    {"name": "not_an_entity", "elements": ["x"]},
]
SYNONYMS = {fold(k): v for k, v in {
    "ゴールド": "gold", "Gold": "gold", "シルバー": "silver", "金牌": "gold", "银牌": "silver",
    "金排": "gold", "オンプレ": "on_premises", "クラウド": "cloud", "Azure": "cloud",
    "本地": "on_premises", "云": "cloud", "Cloud Platform": "cloud",
    "云资格": "cloud", "其他资格": "other",
    "グローバル管理者": "global_admin", "一般ユーザー": "none", "全局管理员": "global_admin",
    "期限切れ": "expired", "前に追加": "linked", "关联过": "linked", "CSP": "csp",
    "署名クラウドサポート": "signature", "签名云支持": "signature", "セキュリティ": "cloud",
    "Cloud Productivity": "cloud",
}.items()}
ENTITIES = {"membership", "support_kind", "competency_kind", "partner_role", "contract_state", "cloud_route"}


def values(text: str) -> list[tuple[str, str]]:
    lookups = build_lookups(TABLES, ENTITIES)
    found = entities_in(text, lookups, SYNONYMS)
    return sorted((e["entity"], e["value"]) for e in found)


def test_fold_folds_width_case_kana_and_half_width_sound_marks() -> None:
    assert fold("ＧＯＬＤ") == "gold"
    assert fold("ごーるど") == fold("ｺﾞｰﾙﾄﾞ") == fold("ゴールド") == "ゴールド"
    assert fold("ｼﾙﾊﾞｰ") == "シルバー" and fold("ﾌﾟﾚﾐｱ") == "プレミア"


@pytest.mark.parametrize(("text", "expected"), [
    ("うちはゴールドです", [("membership", "gold")]),
    ("ごーるどです", [("membership", "gold")]),
    ("ＧＯＬＤ", [("membership", "gold")]),
    ("ｺﾞｰﾙﾄﾞのｵﾝﾌﾟﾚは何件", [("membership", "gold"), ("support_kind", "on_premises")]),
    ("gold partner", [("membership", "gold")]),
    ("金排的", [("membership", "gold")]),
    ("すみません、ゴールドではなくシルバーでした", [("membership", "silver")]),
    ("ゴールドじゃなくてシルバー", [("membership", "silver")]),
    ("说错了，不是银牌是金牌", [("membership", "gold")]),
    ("金牌，不是银牌", [("membership", "gold")]),
    ("应该是云不是本地", [("support_kind", "cloud")]),
    ("本地应该改成云", [("support_kind", "cloud")]),
    ("我们不走本地", [("support_kind", "cloud")]),
    ("银牌不对，是金牌", [("membership", "gold")]),
    ("哦不对，是银牌，金牌是以前的", [("membership", "silver")]),
    ("ゴールドは前の話で、今はシルバーです", [("membership", "silver")]),
    ("不知道我们算不算云", [("support_kind", "cloud")]),
    ("是不是金牌我也不确定", [("membership", "gold")]),
    ("オンプレじゃなくてクラウドの話です", [("support_kind", "cloud")]),
    ("オンプレではないです", [("support_kind", "cloud")]),
    # "cloud" said of the competency is the competency kind.
    ("我们的能力不属于云那一类", [("competency_kind", "other")]),
    ("あとコンピテンシーもクラウドのじゃなかったです", [("competency_kind", "other")]),
    ("资格是云的", [("competency_kind", "cloud")]),
    ("コンピテンシーがあるのでクラウドのサポートを使いたい", [("support_kind", "cloud")]),
    ("ゴールドだとオンプレとクラウドはそれぞれ何件？",
     [("membership", "gold"), ("support_kind", "both")]),
    ("金牌本地和云分别几个", [("membership", "gold"), ("support_kind", "both")]),
    ("金牌云资格和其他资格分别几个", [("competency_kind", "both"), ("membership", "gold")]),
    ("不是云资格，是其他资格", [("competency_kind", "other")]),
    ("グローバル管理者ではありません", [("partner_role", "none")]),
    ("一般ユーザーの権限しかありません", [("partner_role", "none")]),
    ("我是全局管理员", [("partner_role", "global_admin")]),
    ("Cloud Platform です", [("competency_kind", "cloud")]),
    ("シルバーではなかったです", []),
    ("オンプレとは違います", [("support_kind", "cloud")]),
    ("ゴールドじゃなかった、シルバーでした", [("membership", "silver")]),
    ("うちのコンピテンシーはクラウドの分類には入ってないですね", [("competency_kind", "other")]),
    ("契約はまだ期限切れにはなっていないはずです", [("contract_state", "linked")]),
    ("我们公司没有加入 CSP 计划", [("cloud_route", "signature")]),
    ("クラウド系のコンピテンシーは持っていないです", [("competency_kind", "other")]),
    ("うちはクラウドのコンピテンシーを取得していません", [("competency_kind", "other")]),
    ("クラウドコンピテンシーがないとき、シルバーは何件？",
     [("competency_kind", "other"), ("membership", "silver")]),
    ("前に追加した、というわけではありません", [("contract_state", "expired")]),
    ("オンプレで前に追加した、とかではないです",
     [("contract_state", "expired"), ("support_kind", "on_premises")]),
    ("オンプレのサポートはありますか", [("support_kind", "on_premises")]),
    ("オンプレのインシデントがないです", [("support_kind", "on_premises")]),
    ("我们的资格跟云没关系", [("competency_kind", "other")]),
    ("我们并非替客户管理订阅的那类 CSP", [("cloud_route", "signature")]),
    ("我们不是那种帮客户转售的CSP", [("cloud_route", "signature")]),
    # The error's own words ("associated with an account") are no contract case.
    ("门户加合同时提示访问 ID 已经关联过一个帐户了", []),
    ("我们以前从来没关联过这个合同", [("contract_state", "expired")]),
    ("之前在那边关联过这个合同", [("contract_state", "linked")]),
    ("这个合同我们从没在别的地方用过 CSP", [("cloud_route", "signature")]),
    ("関係ない文章", []),
    # A negated list negates each of its members.
    ("セキュリティやCloud Platformのようなものは一つも持っていません", [("competency_kind", "other")] * 2),
    ("Cloud Productivity とセキュリティは取っていないです", [("competency_kind", "other")] * 2),
    ("セキュリティとかは持ってますが、Cloud Platform はないです", [("competency_kind", "cloud")]),
    ("オンプレでもクラウドでもない", []),  # both denied: nothing is known
    ("Cloud Platformもセキュリティもまだ取れてなくて", [("competency_kind", "other")] * 2),
    # Negations further from the entity
    ("期限切れになっている、ということはないと思います", [("contract_state", "linked")]),
    ("CSPとしてお客様の代わりに申請するわけではないです", [("cloud_route", "signature")]),
    ("CSPとして顧客の代わりに出しています", [("cloud_route", "csp")]),
    ("署名クラウドサポートは契約していません", [("cloud_route", "csp")]),
    ("云相关的资格我们一个都没拿到", [("competency_kind", "other")]),
    ("本地那些产品我们基本都不用了", [("support_kind", "cloud")]),
    ("签名云支持这条路对我们用不上", [("cloud_route", "csp")]),
    ("其他资格？我们应该不算那种", [("competency_kind", "cloud")]),
    ("云资格我们还没有拿到", [("competency_kind", "other")]),
    ("本地产品不用激活吗", [("support_kind", "on_premises")]),  # 不用 of another verb
    # A guess that it is, not a negation; "かも" (may not be) still negates.
    ("たぶん期限切れじゃないかと思います", [("contract_state", "expired")]),
    ("うちはゴールドではないでしょうか", [("membership", "gold")]),
    ("オンプレじゃないかもしれません", [("support_kind", "cloud")]),
    ("ゴールドでクラウドコンピテンシーなしだと何件ですか",
     [("competency_kind", "other"), ("membership", "gold")]),
])
def test_entities_with_negations(text: str, expected: list[Any]) -> None:
    assert values(text) == expected


def test_the_ja_and_zh_tables_of_one_entity_match_once() -> None:
    tables = [{"name": "cloud_route", "elements": ["CSP"]}, {"name": "cloud_route", "elements": ["CSP"]}]
    found = find_entities("CSPじゃないです", build_lookups(tables, {"cloud_route"}), {"csp": "csp"})
    assert [e["value"] for e in resolve_negations("CSPじゃないです", found)] == ["signature"]


def test_a_value_inferred_from_a_negation_is_marked_as_such() -> None:
    lookups = [Lookup("support_kind", "クラウド"), Lookup("support_kind", "オンプレ")]
    synonyms = {"クラウド": "cloud", "オンプレ": "on_premises"}

    def resolved(text: str) -> list[tuple[str, bool]]:
        entities = resolve_negations(text, find_entities(text, lookups, synonyms))
        return [(e["value"], e.get("negated", False)) for e in entities]

    assert resolved("クラウドじゃないです") == [("on_premises", True)]
    assert resolved("クラウドじゃなくてオンプレ") == [("on_premises", False)]


def test_a_match_inside_a_longer_one_is_dropped() -> None:
    lookups = [Lookup("competency_kind", "クラウド コンピテンシー"), Lookup("support_kind", "クラウド")]
    found = find_entities("クラウド コンピテンシーです", lookups, {})
    assert [e["entity"] for e in found] == ["competency_kind"]


@pytest.mark.parametrize("text", ["弊社はごーるどです", "弊社はｺﾞｰﾙﾄﾞです"])
def test_offsets_point_into_the_original_text(text: str) -> None:
    lookups = [Lookup("membership", "ゴールド")]
    (entity,) = find_entities(text, lookups, {"ゴールド": "gold"})
    assert fold(text[entity["start"]:entity["end"]]) == "ゴールド"
    assert entity["value"] == "gold"
