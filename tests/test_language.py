"""The language rule and the text folding, as plain tables."""

from __future__ import annotations

import pytest

from components.language import (
    LANGUAGES,
    detect_language,
    fold,
    language_from_locale,
    language_from_metadata,
    script_runs,
)
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
        ("金牌夥伴的支援事件有幾個", "zh"),  # 夥伴: JIS has 夥, Japanese does not write it
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


# --- locale parsing: one rule for channels, actions, tokenizer and trainer ---------------------

LOCALES = [
    ("ja", "ja"), ("ja-JP", "ja"), ("JA_jp", "ja"), (" ja-JP ", "ja"), ("ja_JP.UTF-8", "ja"),
    ("ja_JP@calendar=japanese", "ja"), ("zh", "zh"), ("zh-CN", "zh"), ("zh-TW", "zh"),
    ("zh-HK", "zh"), ("zh-Hans-CN", "zh"), ("zh-Hant", "zh"), ("zh_CN", "zh"),
    ("en-US", None), ("ko-KR", None), ("jv", None), ("jav-ID", None),  # Javanese, not "ja…"
    ("japanese", None), ("zho", None), ("en-JA", None), ("", None), ("-ja", None),
    (None, None), (42, None), (["ja"], None),
]


@pytest.mark.parametrize(("locale", "language"), LOCALES)
def test_language_from_locale(locale: object, language: str | None) -> None:
    assert language_from_locale(locale) == language


@pytest.mark.parametrize(
    ("metadata", "language"),
    [
        ({"language": "zh"}, "zh"),  # web widget switch; Teams/Slack parsed hint
        ({"language": "ja-JP"}, "ja"),
        ({"locale": "zh-TW"}, "zh"),  # a raw channel locale
        ({"language": "ja", "locale": "zh-CN"}, "ja"),  # the explicit hint wins
        ({"language": "en", "locale": "zh-CN"}, "zh"),  # an undecided hint falls through
        ({"language": None, "locale": "jav-ID"}, None),
        ({"language": 1}, None),
        ({}, None),
        (None, None),
        ("ja", None),  # not a mapping
    ],
)
def test_language_from_metadata(metadata: object, language: str | None) -> None:
    assert language_from_metadata(metadata) == language


@pytest.mark.parametrize(("locale", "language"), [row for row in LOCALES if isinstance(row[0], str)])
def test_every_layer_uses_the_same_locale_rule(locale: str, language: str | None) -> None:
    from rasa.shared.nlu.training_data.message import Message

    from actions.actions import channel_language_hint
    from channels import settings
    from components.tokenizer import LanguageAwareTokenizer

    assert settings.language_from_locale is language_from_locale  # Teams and Slack
    assert channel_language_hint({"locale": locale}) == language  # first language (actions)
    # Tokenizer: a message whose script does not decide is cut by the hinted segmenter.
    message = Message(data={"text": "特典", "metadata": {"language": locale}})
    # The method reads no state of the tokenizer, so no trained one is needed.
    segment = LanguageAwareTokenizer.segmentation_language
    assert segment(None, message, "特典") == (language or "zh")  # type: ignore[arg-type]


def test_trainer_languages_are_the_rule_s_and_load_no_rasa() -> None:
    import subprocess
    import sys

    from trainer.project import LANGUAGES as TRAINER_LANGUAGES

    assert TRAINER_LANGUAGES == LANGUAGES
    code = "import sys, trainer.project; print(any(m.split('.')[0] == 'rasa' for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
