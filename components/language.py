"""Pure text helpers: which language a message is in, width/case folding, script runs.

The one home of the language rule and of locale parsing: the NLU components, the actions
(the first language of a conversation), the channels (Teams and Slack locales) and the
trainer all import it from here. Standard library and OpenCC only, so importing it does not
load Rasa.

The language rule (docs/diagnoses.md, "Language"): kana or Japanese-only kanji → ja; simplified-only
or traditional-only Chinese characters → zh; otherwise the message does not decide (None)
and the conversation keeps its language.

Which Han characters are "only Japanese" or "only Chinese" is read off the standard
character sets through Python's codecs, not a hand-written table: a character in JIS
(cp932) but in neither GB2312 nor Big5 is a Japanese form (権, 済, 覧); one in GB2312 or
Big5 but not in JIS is Chinese (权, 这, 访 simplified; 閱 traditional; 哪, 查 both).
Traditional forms that JIS also contains are Chinese when Japanese writes them otherwise
(權 → 権, 點 → 点: OpenCC's t2jp table) or not at all (們, 這: listed explicitly).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast

Language = Literal["ja", "zh"]
LANGUAGES: tuple[Language, ...] = ("ja", "zh")
# Channel metadata keys that may carry a language hint, strongest first: the web widget's
# language switch (and the Teams/Slack channels' already parsed hint), then a raw locale.
HINT_KEYS = ("language", "locale")
# Separators after the primary language subtag: BCP 47 (zh-Hant-TW), POSIX and Slack
# (ja_JP, ja_JP.UTF-8, ja_JP@calendar).
_SUBTAG_END = re.compile(r"[-_.@]")

# Traditional forms present in JIS X 0208 that modern Japanese does not use and that have
# no Japanese form of their own (those that have one, 點 → 点, 說 → 説, are read off OpenCC).
TRADITIONAL_IN_JIS = set("們這還麼嗎啟碼訊幫裡夥")
# Simplified forms and Chinese-only words' characters that JIS also encodes (mostly its
# rarely used level 2: 个 几 已 无 怎 找 做…) but modern Japanese writes otherwise (個 幾
# 無 決 効 価 気…) or not at all. Without them "金牌几个事件" or "怎么激活" has no deciding
# character and a new conversation would be answered in Japanese. Checked against every
# Japanese training and held-out example (none contains one; tests/test_language.py).
SIMPLIFIED_IN_JIS = set("个几云怎什已无剩找做售决聊效咨拜呀从跟哈价气荐掉于拿收假网站很咋么啥咱嘛哦啦嗯呗喔")
# Chinese sentence particles that Japanese text never uses outside kanji compounds.
CHINESE_PARTICLES = set("吗呢吧啊嗎")

# Text inside quotes is often a pasted error message in the other language
# ("打开后显示「このアクション…」怎么办"), so the frame around it decides first.
QUOTED = re.compile(r"「[^」]*」|『[^』]*』|“[^”]*”|\"[^\"]*\"|【[^】]*】")


def _encodable(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff"


def is_kana(char: str) -> bool:
    return "\u3041" <= char <= "\u30ff" and char not in "\u30fb" or "\uff66" <= char <= "\uff9d"


@lru_cache(maxsize=8192)
def han_evidence(char: str) -> Language | None:
    """Which language a single Han character points to, if any."""
    if char in TRADITIONAL_IN_JIS or char in SIMPLIFIED_IN_JIS or char in CHINESE_PARTICLES:
        return "zh"
    jis, gb, big5 = (_encodable(char, codec) for codec in ("cp932", "gb2312", "big5"))
    if jis and not gb and not big5:
        return "ja"
    if not jis and (gb or big5):
        return "zh"
    if jis and big5 and not gb and _japanese_form(char) != char:
        return "zh"  # a traditional form that Japanese writes otherwise (點 → 点, 關 → 関)
    return None


@lru_cache(maxsize=1)
def _t2jp() -> Any:
    import opencc  # no data is downloaded: its dictionaries ship in the wheel

    return opencc.OpenCC("t2jp")


def _japanese_form(char: str) -> str:
    """The Japanese (shinjitai) form of a traditional character, by OpenCC's t2jp."""
    return str(_t2jp().convert(char))


def _evidence(text: str) -> tuple[int, int]:
    ja = zh = 0
    for char in text:
        if is_kana(char):
            ja += 1
        elif is_han(char):
            language = han_evidence(char)
            ja += language == "ja"
            zh += language == "zh"
    return ja, zh


def detect_language(text: str) -> Language | None:
    """ja, zh, or None when the script does not decide (Latin only, common Han, emoji)."""
    for candidate in (QUOTED.sub(" ", text), text):
        ja, zh = _evidence(candidate)
        if ja or zh:
            return "ja" if ja >= zh else "zh"
    return None


def language_from_locale(locale: object) -> Language | None:
    """ja/zh from a locale, else None: its primary language subtag decides, exactly.

    ja, ja-JP, JA_jp, ja_JP.UTF-8 → "ja"; zh, zh-CN, zh-TW, zh-Hans-CN, zh_HK → "zh";
    en-US, jv, jav-ID (Javanese), "", None, non-strings → None (not a prefix match: "jav"
    is not Japanese).
    """
    if not isinstance(locale, str):
        return None
    primary = _SUBTAG_END.split(locale.strip().lower(), maxsplit=1)[0]
    return cast(Language, primary) if primary in LANGUAGES else None


def language_from_metadata(metadata: object) -> Language | None:
    """The channel's language hint in a message's or session's metadata, else None:
    {"language": "zh"} (web widget, Teams, Slack) or {"locale": "zh-TW"}."""
    if not isinstance(metadata, Mapping):
        return None
    for key in HINT_KEYS:
        language = language_from_locale(metadata.get(key))
        if language:
            return language
    return None


def fold_width_char(char: str) -> str:
    """Width folding (ＩＤ → ID, ｱ → ア) that keeps one character per character."""
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def fold_width(text: str) -> str:
    return "".join(fold_width_char(char) for char in text)


def fold(text: str) -> str:
    """Width and case folding; offsets into the original text still hold."""
    return fold_width(text).lower()


HIRAGANA = range(0x3041, 0x3097)
KATAKANA_OFFSET = 0x60


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=8192)
def _simplified_char(char: str) -> str:
    """A traditional character's simplified form (點 → 点, 帳 → 帐), one for one."""
    converted = str(_t2s().convert(char))
    return converted if len(converted) == 1 else char


def fold_kana_char(char: str) -> str:
    """Width, case, hiragana → katakana, and traditional → simplified Chinese: a partner may
    type "點開了" for the "点开了" of a lookup. Both sides of every match are folded alike,
    so a Japanese kanji that has a simplified form (開 → 开) still matches itself."""
    folded = fold_width_char(char).lower()
    if len(folded) == 1 and ord(folded) in HIRAGANA:
        return chr(ord(folded) + KATAKANA_OFFSET)
    if len(folded) == 1 and "\u4e00" <= folded <= "\u9fff":
        return _simplified_char(folded)
    return folded


# Half-width sound marks (ｺﾞ is two characters) combine with the kana before them.
HALF_WIDTH_MARKS = {"\uff9e": "\u3099", "\uff9f": "\u309a"}


def fold_kana_with_spans(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Width, case and hiragana → katakana folding (ごーるど, ｺﾞｰﾙﾄﾞ, ゴールド alike), for
    matching lookup entries, and for each folded character the span of `text` it came
    from (ｺﾞ → ゴ folds two characters into one)."""
    folded: list[str] = []
    spans: list[tuple[int, int]] = []
    for index, char in enumerate(text):
        mark = HALF_WIDTH_MARKS.get(char)
        if mark and folded:
            combined = unicodedata.normalize("NFC", folded[-1] + mark)
            if len(combined) == 1:
                folded[-1] = combined
                spans[-1] = (spans[-1][0], index + 1)
                continue
        folded.append(fold_kana_char(char))
        spans.append((index, index + 1))
    return "".join(folded), spans


def fold_kana(text: str) -> str:
    return fold_kana_with_spans(text)[0]


def lacks_words(text: str, words: Sequence[str]) -> bool:
    """Whether the text holds none of the words, kana folded on both sides; an empty list
    lacks nothing. (An intent that needs words is not the reading of a message without
    them: config.yml IntentNeedsWords, and the clause readings in actions/clauses.py.)"""
    folded = fold_kana(text)
    return bool(words) and not any(fold_kana(word) in folded for word in words)


@dataclass(frozen=True)
class Run:
    """A maximal stretch of one kind of script: "cjk" or "latin"."""

    kind: Literal["cjk", "latin"]
    start: int
    end: int


_RUN = re.compile(
    r"(?P<latin>[0-9a-z]+(?:[.'\-+&][0-9a-z]+)*)"
    r"|(?P<cjk>[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u3006\u30fc]+)"
)


# Words inside a Latin run written without spaces: "AccessID" → Access, ID;
# "Office365" → Office, 365.
_LATIN_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def latin_words(width_folded: str, run: Run) -> Iterator[tuple[int, int]]:
    """Offsets of the words of a Latin run, split at case and digit changes; joiners
    such as "-" in "on-prem" are dropped like spaces."""
    for match in _LATIN_WORD.finditer(width_folded, run.start, run.end):
        yield match.start(), match.end()


def script_runs(folded: str) -> Iterator[Run]:
    """Latin words and CJK stretches of already folded text; spaces and symbols dropped."""
    for match in _RUN.finditer(folded):
        yield Run("latin" if match.lastgroup == "latin" else "cjk", match.start(), match.end())
