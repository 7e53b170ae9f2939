"""One tokenizer for Japanese, Chinese and the English that partners mix into both.

Each message is folded (full-width → half-width, lower case; one character stays one
character so entity offsets still point into the original text), cut into Latin and
CJK runs, and each CJK run is segmented by SudachiPy (Japanese) or jieba (Chinese) as
the language rule in `components.language` decides. Spaces and symbols never become
tokens. Japanese lemmas are Sudachi's normalised forms, which unify spelling variants
(アクティブ化/アクティブか, 出来る/できる). Chinese is segmented in simplified characters
(OpenCC), the script the training data is written in, so "想請教一個問題" and "想请教一个问题"
give the same lemmas.

The jieba user dictionary (domain glossary) is copied into the model at training time
and read from there at load time, so a served model never depends on the repository.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jieba
import opencc
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sudachipy import dictionary as sudachi_dictionary
from sudachipy import tokenizer as sudachi_tokenizer

from components.language import (
    Language,
    detect_language,
    fold_width,
    language_from_metadata,
    latin_words,
    script_runs,
)

logger = logging.getLogger(__name__)

USER_DICTIONARY_FILE = "jieba_userdict.txt"
_TRADITIONAL_TO_SIMPLIFIED = opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional Chinese characters as simplified ones, one character for one (so token
    offsets still point into the original text): phrase conversion where it keeps the
    length, else character by character."""
    converted = _TRADITIONAL_TO_SIMPLIFIED.convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_TRADITIONAL_TO_SIMPLIFIED.convert(char)[:1] or char for char in text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class LanguageAwareTokenizer(Tokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Rasa's tokenizer options (intent names are not split).
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Sudachi split mode: "A" (short units), "B" (middle) or "C" (named entities whole).
            "sudachi_split_mode": "B",
            # Lemma of Japanese tokens: "normalized" (Sudachi's normalised form) or "surface".
            "japanese_lemma": "normalized",
            # jieba user dictionary (domain glossary); copied into the model.
            "jieba_user_dictionary": None,
            # Only this many characters are analysed: the cost of DIET grows with the square
            # of the token count, and SudachiPy raises above ~49 KB of input.
            "max_chars": 2000,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        user_dictionary: str | None,
    ) -> None:
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self._user_dictionary = user_dictionary
        self._split_mode = getattr(
            sudachi_tokenizer.Tokenizer.SplitMode, config["sudachi_split_mode"]
        )
        # One Sudachi tokenizer per component: they must not be shared across threads.
        self._sudachi = sudachi_dictionary.Dictionary(dict="core").create(self._split_mode)
        # A private jieba instance, initialised now: its lazy prefix-dictionary build
        # (~0.7 s) would otherwise land on the first user's message.
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        if user_dictionary:
            for line in user_dictionary.splitlines():
                if line.strip() and not line.startswith("#"):
                    word, *rest = line.split()
                    self._jieba.add_word(word, int(rest[0]) if rest and rest[0].isdigit() else None)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageAwareTokenizer:
        path = config.get("jieba_user_dictionary")
        user_dictionary = Path(path).read_text(encoding="utf-8") if path else None
        return cls(config, model_storage, resource, user_dictionary)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageAwareTokenizer:
        user_dictionary = None
        try:
            with model_storage.read_from(resource) as directory:
                stored = Path(directory) / USER_DICTIONARY_FILE
                if stored.exists():
                    user_dictionary = stored.read_text(encoding="utf-8")
        except ValueError:
            logger.debug("No jieba user dictionary stored in the model.")
        return cls(config, model_storage, resource, user_dictionary)

    def train(self, training_data: TrainingData) -> Resource:
        if self._user_dictionary:
            with self._model_storage.write_to(self._resource) as directory:
                (Path(directory) / USER_DICTIONARY_FILE).write_text(
                    self._user_dictionary, encoding="utf-8"
                )
        return self._resource

    def segmentation_language(self, message: Message, text: str) -> Language:
        """The language whose segmenter cuts CJK runs that the script does not decide."""
        detected = detect_language(text)
        if detected:
            return detected
        return language_from_metadata(message.get("metadata")) or "zh"

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        original = (message.get(attribute) or "")[: self._config["max_chars"]]
        width_folded = fold_width(original)
        folded = width_folded.lower()
        language = self.segmentation_language(message, original) if attribute == TEXT else "zh"
        tokens: list[Token] = []
        for run in script_runs(folded):
            if run.kind == "latin":
                tokens.extend(
                    Token(original[start:end], start, end, lemma=folded[start:end])
                    for start, end in latin_words(width_folded, run)
                )
            elif language == "ja":
                tokens.extend(self._sudachi_tokens(original, folded, run.start, run.end))
            else:
                tokens.extend(self._jieba_tokens(original, folded, run.start, run.end))
        return self._apply_token_pattern(tokens)

    def _sudachi_tokens(self, original: str, folded: str, start: int, end: int) -> list[Token]:
        normalized = self._config["japanese_lemma"] == "normalized"
        tokens = []
        for morpheme in self._sudachi.tokenize(folded[start:end]):
            begin, finish = start + morpheme.begin(), start + morpheme.end()
            lemma = morpheme.normalized_form() if normalized else folded[begin:finish]
            tokens.append(Token(original[begin:finish], begin, finish, lemma=lemma))
        return tokens

    def _jieba_tokens(self, original: str, folded: str, start: int, end: int) -> list[Token]:
        return [
            Token(original[start + begin : start + finish], start + begin, start + finish,
                  lemma=word)
            for word, begin, finish in self._jieba.tokenize(simplified(folded[start:end]))
        ]
