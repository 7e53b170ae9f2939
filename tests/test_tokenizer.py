"""The language-aware tokenizer as Rasa runs it (a real graph component)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.tokenizer import LanguageAwareTokenizer

USER_DICTIONARY = "访问ID 2000\n客户经理 2000\n签名云支持 2000\n"


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture
def tokenizer(storage: LocalModelStorage, tmp_path: Path) -> LanguageAwareTokenizer:
    dictionary = tmp_path / "userdict.txt"
    dictionary.write_text(USER_DICTIONARY, encoding="utf-8")
    config = {**LanguageAwareTokenizer.get_default_config(),
              "jieba_user_dictionary": str(dictionary)}
    return LanguageAwareTokenizer.create(config, storage, Resource("tokenizer"),
                                         ExecutionContext(GraphSchema({})))


def tokens(tokenizer: LanguageAwareTokenizer, text: str, metadata: dict | None = None):
    message = Message(data={TEXT: text, "metadata": metadata or {}})
    return tokenizer.tokenize(message, TEXT)


@pytest.mark.parametrize(
    ("text", "expected_texts"),
    [
        ("Azureでaccess IDのエラー", ["Azure", "で", "access", "ID", "の", "エラー"]),
        ("签名云支持怎么用", ["签名云支持", "怎么", "用"]),
        ("ＡＣＣＥＳＳ　ＩＤ", ["ＡＣＣＥＳＳ", "ＩＤ"]),
        ("Support for Business", ["Support", "for", "Business"]),
        ("ＡｃｃｅｓｓＩＤをなくした", ["Ａｃｃｅｓｓ", "ＩＤ", "を", "なくし", "た"]),
        ("contractID和accessId", ["contract", "ID", "和", "access", "Id"]),
        ("Office365 on-prem", ["Office", "365", "on", "prem"]),
        ("😀", []),
        ("", []),
        ("   ", []),
    ],
)
def test_token_texts_and_offsets(tokenizer: LanguageAwareTokenizer, text: str,
                                 expected_texts: list[str]) -> None:
    result = tokens(tokenizer, text)
    assert [token.text for token in result] == expected_texts
    for token in result:
        assert text[token.start : token.end] == token.text
        assert token.text.strip() == token.text != ""


def test_lemmas_are_folded_and_normalised(tokenizer: LanguageAwareTokenizer) -> None:
    lemmas = [token.lemma for token in tokens(tokenizer, "ＡＣＣＥＳＳ ＩＤが出来ない")]
    assert lemmas[:2] == ["access", "id"]
    assert "出来る" in lemmas  # Sudachi's normalised form of できない/出来ない
    assert [t.lemma for t in tokens(tokenizer, "アクティブ化できない")] == \
        [t.lemma for t in tokens(tokenizer, "アクティブ化出来ない")]


def test_traditional_chinese_gets_the_simplified_lemmas(tokenizer: LanguageAwareTokenizer) -> None:
    traditional = tokens(tokenizer, "想請教一個問題：訪問ID關聯到帳戶了嗎")
    assert [t.lemma for t in traditional] == \
        [t.lemma for t in tokens(tokenizer, "想请教一个问题：访问ID关联到帐户了吗")]
    text = "想請教一個問題：訪問ID關聯到帳戶了嗎"
    assert all(text[t.start : t.end] == t.text for t in traditional)  # offsets unchanged
    # Japanese keeps its own characters (説明 is not turned into 说明).
    assert "説明" in [t.text for t in tokens(tokenizer, "説明してください")]


def test_user_dictionary_keeps_domain_terms_whole(tokenizer: LanguageAwareTokenizer) -> None:
    assert "客户经理" in [t.text for t in tokens(tokenizer, "请联系技术客户经理")]


def test_undecided_han_uses_the_channel_hint(tokenizer: LanguageAwareTokenizer) -> None:
    # 附属 is written the same in both languages; only Sudachi normalises it to 付属.
    assert [t.lemma for t in tokens(tokenizer, "附属", {"language": "ja"})] == ["付属"]
    assert [t.lemma for t in tokens(tokenizer, "附属", {"language": "zh"})] == ["附属"]


def test_huge_message_is_bounded(tokenizer: LanguageAwareTokenizer) -> None:
    result = tokens(tokenizer, "アクセス ID " * 20000)
    assert result and result[-1].end <= 2000


def test_user_dictionary_travels_inside_the_model(tokenizer: LanguageAwareTokenizer,
                                                  storage: LocalModelStorage) -> None:
    resource = tokenizer.train(TrainingData())
    loaded = LanguageAwareTokenizer.load(
        {**LanguageAwareTokenizer.get_default_config(), "jieba_user_dictionary": "/nonexistent"},
        storage, resource, ExecutionContext(GraphSchema({})),
    )
    assert "客户经理" in [t.text for t in tokens(loaded, "请联系技术客户经理")]
