"""The language rule and the text folding, as plain tables."""

from __future__ import annotations

import pytest

from components.language import detect_language, fold, script_runs
from components.redaction import mask_ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("このアクションに対して承認されていない", "ja"),  # pure Japanese
        ("特典をアクティブ化できません", "ja"),
        ("権限", "ja"),  # Japanese-only kanji form, no kana
        ("済", "ja"),
        ("你无权执行此操作", "zh"),  # pure simplified Chinese
        ("看起来你还没有任何权益", "zh"),
        ("我們的權益看不到", "zh"),  # traditional characters
        ("訪問ID已關聯", "zh"),
        ("閱讀", "zh"),
        ("請問剩餘的支援事件數在哪裡查看？", "zh"),  # 哪 and 查 are not in JIS
        ("Azureでaccess IDのエラー", "ja"),  # mixed Japanese/English
        ("Azure门户里link support benefits报错", "zh"),  # mixed Chinese/English
        ("打开后显示「このアクションに対して承認されていない」怎么办", "zh"),  # quoted paste
        ("「まだ特典がないように見えます」と出ます", "ja"),
        ("金牌几个事件", "zh"),  # 几 个: simplified forms JIS also encodes (level 2)
        ("云支持怎么申请", "zh"),
        ("已经过期了", "zh"),
        ("云々の件です", "ja"),  # the rare Japanese use of 云 comes with kana
        ("個数", None),  # the Japanese forms of the same words decide nothing
        ("特典", None),  # Han common to both: the conversation keeps its language
        ("技術支援", None),
        ("Azure access ID error", None),  # Latin only
        ("ＡＣＣＥＳＳ　ＩＤ", None),  # full-width Latin
        ("😀👍", None),  # emoji
        ("", None),  # empty
        ("   ", None),
        ("アクセス" * 5000, "ja"),  # huge
    ],
)
def test_detect_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＡＣＣＥＳＳ　ＩＤ", "access id"),
        ("Access ID", "access id"),
        ("ｱｸｾｽ", "アクセス"),  # half-width katakana
        ("１２３", "123"),
        ("特典", "特典"),
    ],
)
def test_fold_keeps_one_character_per_character(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert len(fold(text)) == len(text)


def test_script_runs_split_latin_inside_cjk_and_drop_spaces() -> None:
    folded = fold("Azureでaccess IDのエラー 😀")
    runs = [(run.kind, folded[run.start : run.end]) for run in script_runs(folded)]
    assert runs == [("latin", "azure"), ("cjk", "で"), ("latin", "access"), ("latin", "id"),
                    ("cjk", "のエラー")]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ID は 1a2b3c4d-1234-5678-9abc-def012345678 です", "ID は [ID] です"),
        ("合同ID 12345678 不能用", "合同ID [ID] 不能用"),
        ("contract AB12CD34EF5", "contract [ID]"),
        ("Windows 10 と SQL Server 2019", "Windows 10 と SQL Server 2019"),
        ("Cloud Platform コンピテンシー", "Cloud Platform コンピテンシー"),
    ],
)
def test_mask_ids(text: str, masked: str) -> None:
    assert mask_ids(text) == masked


@pytest.mark.parametrize(("language", "other"), [("ja", "zh"), ("zh", "ja")])
def test_no_example_is_ever_detected_as_the_other_language(language: str, other: str) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    for source in (f"data/nlu/{language}", f"tests/nlu/heldout_{language}.yml"):
        examples = load_data(source).intent_examples
        wrong = [e.get("text") for e in examples if detect_language(e.get("text")) == other]
        assert not wrong, f"{source}: {wrong[:5]}"
