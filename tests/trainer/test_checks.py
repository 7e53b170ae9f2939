"""`validate`: each check catches its own deliberately broken copy of the fixture project,
naming the file and the line of the problem."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.trainer.conftest import MIN_EXAMPLES, run_trainer
from trainer.checks import catalogue_ids, run_checks
from trainer.project import REPO, Project
from trainer.similarity import SimilarityIndex, jaccard, normalise, trigrams


def mutate(project: Project, relative: str, old: str, new: str) -> None:
    path = project.root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} not found once in {relative}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(project: Project, relative: str, needle: str, last: bool = False) -> int:
    lines = (project.root / relative).read_text(encoding="utf-8").splitlines()
    found = [n + 1 for n, line in enumerate(lines) if needle in line]
    assert found, f"{needle!r} not in {relative}"
    return found[-1] if last else found[0]


@dataclass(frozen=True)
class Broken:
    """A change that breaks one rule, and where the check must point."""

    check: str
    file: str
    old: str
    new: str
    at: str  # text on the expected line of `file` (after the change)
    says: str  # part of the expected message
    at_file: str | None = None  # when the problem is reported in another file
    last: bool = False  # the last line holding `at` (for duplicates)


BROKEN = {
    "too few examples": Broken(
        "examples-per-intent", "data/nlu/zh/conversation.yml",
        "    - 你好啊\n    - 您好，在线吗\n    - hi\n", "",
        at="  - greet", at_file="domain.yml", says="'greet' has 7 examples in data/nlu/zh/"),
    "same example under two intents": Broken(
        "duplicate-example", "data/nlu/ja/benefits.yml",
        "    - 特典画面でアクセス拒否みたいなエラーが出る\n",
        "    - 特典画面でアクセス拒否みたいなエラーが出る\n    - 特典を有効化したい\n",
        at="    - 特典を有効化したい", last=True, says="intent ask_activate_benefits"),
    "near-duplicate under two intents": Broken(
        "duplicate-example", "data/nlu/ja/conversation.yml",
        "    - 猫の飼い方を教えて\n",
        "    - 猫の飼い方を教えて\n    - テクニカル サポート特典をアクティブ化する方法を教えてくださいね\n",
        at="教えてくださいね", says="near-duplicate (similarity 0.91)"),
    "width and case variant under two intents": Broken(
        "duplicate-example", "data/nlu/ja/conversation.yml",
        "    - 猫の飼い方を教えて\n",
        "    - 猫の飼い方を教えて\n    - ＰＡＲＴＮＥＲ　ＣＥＮＴＥＲ で ACTIVATE を押す場所が分からない！\n",
        at="ＰＡＲＴＮＥＲ", says="the same example"),
    "unused intent": Broken(
        "unused-intent", "domain.yml", "  - out_of_scope\n",
        "  - out_of_scope\n  - thank\n", at="  - thank", says="'thank' is not used"),
    "unused response": Broken(
        "unused-response", "domain.yml", "  utter_default:\n",
        '  utter_unused:\n  - text: "未使用です"\n  - condition:\n    - type: slot\n'
        '      name: language\n      value: zh\n    text: "未使用"\n\n  utter_default:\n',
        at="  utter_unused:", says="'utter_unused' is not used"),
    "response without zh": Broken(
        "response-languages", "domain.yml",
        '  - text: "申し訳ありませんが、MPN のテクニカル サポート特典についてのみお答えできます。"\n'
        "  - condition:\n    - type: slot\n      name: language\n      value: zh\n"
        '    text: "抱歉，我只能回答 MPN 技术支持权益相关的问题。"\n',
        '  - text: "申し訳ありませんが、MPN のテクニカル サポート特典についてのみお答えできます。"\n',
        at="  utter_out_of_scope:", says="'utter_out_of_scope' has no zh variation"),
    "zh response written in Japanese": Broken(
        "response-languages", "domain.yml",
        '    text: "我们再检查一下其他原因。"\n', '    text: "別の原因を確認しましょう。"\n',
        at="別の原因を確認しましょう", last=True,
        says="utter_guide_failed': the zh variation is not written in zh"),
    "guide step without zh": Broken(
        "content-languages", "actions/content/guides.yml",
        '          zh: "点击“激活”按钮。"\n', "",
        at="「アクティブ化」ボタンを押します", says="steps[1].text has no zh text"),
    "label without ja": Broken(
        "content-languages", "actions/content/labels.yml",
        'not_authorized: {ja: "「承認されていません」エラー", zh:', "not_authorized: {zh:",
        at="not_authorized:", says="diagnoses.not_authorized has no ja text"),
    "lookup value without synonym": Broken(
        "entity-values", "data/lookups/ja.yml", "    - アクションパック\n\n- synonym: gold",
        "    - アクションパック\n    - プラチナ\n\n- synonym: gold",
        at="    - プラチナ", says="entry 'プラチナ' maps to no value of membership"),
    "synonym of an unknown value": Broken(
        "entity-values", "data/lookups/zh.yml", "- synonym: silver\n",
        "- synonym: platinum\n  examples: |\n    - 铂金\n- synonym: silver\n",
        at="- synonym: platinum", says="synonym value 'platinum'"),
    "synonym entry in no lookup": Broken(
        "entity-values", "data/lookups/zh.yml", "- synonym: silver\n  examples: |\n    - 银牌\n",
        "- synonym: silver\n  examples: |\n    - 银牌\n    - 白吟\n",
        at="    - 白吟", says="entry '白吟' is in no lookup"),
    "annotation with an unknown value": Broken(
        "entity-values", "data/nlu/ja/benefits.yml",
        '[ゴールド]{"entity": "membership", "value": "gold"}のインシデント数は？',
        '[ゴールド]{"entity": "membership", "value": "golden"}のインシデント数は？',
        at='"golden"', says="membership value 'golden'"),
    "button with an unknown value": Broken(
        "entity-values", "domain.yml",
        "    - title: \"金牌\"\n      payload: '/ask_entitlement{\"membership\": \"gold\"}'\n",
        "    - title: \"金牌\"\n      payload: '/ask_entitlement{\"membership\": \"金\"}'\n",
        at='title: "金牌"', says="membership='金'"),
    "unknown diagnosis in a slot mapping": Broken(
        "diagnosis-ids", "domain.yml", "value: activate_benefits}",
        "value: activate_benefit}", at="activate_benefit}", says="'activate_benefit'"),
    "unknown diagnosis in starts.yml": Broken(
        "diagnosis-ids", "actions/content/starts.yml", "activate_benefits: {guide",
        "activate: {guide", at="activate: {guide", says="starts.yml key: diagnosis 'activate'"),
    "unknown diagnosis of a cause": Broken(
        "diagnosis-ids", "actions/content/guides.yml", "diagnosis: activation_role_required",
        "diagnosis: role_required", at="diagnosis: role_required",
        says="cause 'activation_role'"),
    "unknown diagnosis label": Broken(
        "diagnosis-ids", "actions/content/labels.yml", "  not_authorized: {",
        "  unauthorized: {", at="unauthorized:", says="label: diagnosis 'unauthorized'"),
    "held-out example in training data": Broken(
        "heldout-leak", "data/nlu/ja/conversation.yml", "    - おはよう\n",
        "    - おはよう\n    - おはようございます\n", at="    - おはようございます",
        says="(tests/nlu/heldout_ja.yml:"),
    "held-out near-duplicate in training data": Broken(
        "heldout-leak", "data/nlu/zh/conversation.yml", "    - 在吗\n",
        "    - 在吗\n    - 早上好！！\n", at="早上好", says="held-out '早上好'"),
    "held-out conversation message in training data": Broken(
        "conversation-leak", "data/nlu/ja/benefits.yml", "    - 特典を有効化したい\n",
        "    - 特典を有効化したい\n    - 特典をアクティブ化するボタンが見つからないんですが\n",
        at="ボタンが見つからないんですが", says="(tests/dialogue/ja.yml:5)"),
    "Chinese example among the Japanese ones": Broken(
        "wrong-language", "data/nlu/ja/benefits.yml", "    - 特典を有効化したい\n",
        "    - 特典を有効化したい\n    - 我们怎么激活这个权益呢\n", at="我们怎么激活这个权益呢",
        says="reads as zh, not ja"),
    "unclosed annotation": Broken(
        "unclosed-annotation", "data/nlu/ja/benefits.yml", "    - 特典を有効化したい\n",
        "    - 特典を有効化したい\n    - [ゴールド](membership の特典を有効化したい\n",
        at="[ゴールド](membership", says="not closed"),
    "invalid YAML": Broken(
        "unreadable", "data/nlu/zh/benefits.yml", "- intent: ask_entitlement\n",
        "- intent: ask_entitlement\n\tsee: tab\n", at="\tsee: tab", says="invalid YAML"),
}


def test_the_fixture_passes_every_check(fixture_copy: Callable[[], Project]) -> None:
    assert run_checks(fixture_copy(), min_examples=MIN_EXAMPLES) == []


@pytest.mark.parametrize("name", BROKEN)
def test_each_check_catches_its_broken_fixture(
        name: str, fixture_copy: Callable[[], Project]) -> None:
    broken = BROKEN[name]
    project = fixture_copy()
    mutate(project, broken.file, broken.old, broken.new)
    rendered = [p.render(project) for p in run_checks(project, min_examples=MIN_EXAMPLES)]
    at_file = broken.at_file or broken.file
    expected = f"{at_file}:{line_of(project, at_file, broken.at, broken.last)}: [{broken.check}]"
    assert any(r.startswith(expected) and broken.says in r for r in rendered), \
        f"expected {expected} ... {broken.says!r}; got:\n" + "\n".join(rendered)


def test_validate_command_runs_rasa_validation_too(fixture_copy: Callable[[], Project]) -> None:
    """The whole command: with a rule naming a response that does not exist, the project's
    checks pass but Rasa's validation fails, and the message points at the rule."""
    project = fixture_copy()
    mutate(project, "data/rules.yml", "{action: utter_guide_failed}", "{action: utter_nothing}")
    # The response the rule used is now unused: that is the project's own check.
    done = run_trainer(project, "validate", "--min-examples", str(MIN_EXAMPLES))
    assert done.returncode == 1
    line = line_of(project, "data/rules.yml", "utter_nothing")
    assert re.search(rf"data/rules.yml:{line}: \[rasa\] .*'utter_nothing'", done.stdout)
    assert "  FAIL rasa data validate:" in done.stdout
    assert re.search(r"domain.yml:\d+: \[unused-response\] .*'utter_guide_failed'",
                     done.stdout)
    assert "Validation failed: 1 problems in the project's checks, and Rasa's validation " \
        "failed." in done.stdout


def test_the_catalogue_is_the_repository_s_docs_diagnoses_md(tmp_path: Path) -> None:
    ids, source = catalogue_ids(Project(REPO))
    assert source == REPO / "docs" / "diagnoses.md"
    assert {"not_authorized", "access_id_already_associated_expired", "human_handoff",
            "out_of_scope"} <= ids
    assert len(ids) == 17
    # A project without its own catalogue (the test fixture) is checked against this one.
    assert catalogue_ids(Project(tmp_path)) == (ids, source)


def test_near_duplicate_index_finds_what_brute_force_finds() -> None:
    texts = ["特典を有効化したい", "特典を有効化したいです", "特典を有効化したい！", "ＡＢＣ def",
             "abc DEF", "技術関連の特典を開くと承認されていないと表示されます",
             "技術関連の特典を開くと承認されていないと表示されました", "はい", "はい。", "いいえ"]
    index = SimilarityIndex(((t, i) for i, t in enumerate(texts)), 0.8)
    for text in texts:
        expected = {j for j, other in enumerate(texts) if normalise(text) == normalise(other)
                    or jaccard(trigrams(text), trigrams(other)) >= 0.8}
        assert {m.item for m in index.find(text)} == expected
