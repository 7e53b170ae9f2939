"""Exact and near-duplicate detection between NLU examples.

Two texts are the same example when they are equal after normalisation (NFKC width
folding, case folding, punctuation, symbols and spaces removed), and near-duplicates
when the Jaccard similarity of their character trigrams is at least the threshold.
Candidates are found with prefix filtering (sets ordered rarest trigram first): two
sets with Jaccard >= t always share a trigram within their first |x| - ceil(t|x|) + 1,
so only those are indexed, and comparing thousands of examples stays fast.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
DEFAULT_THRESHOLD = 0.9


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] not in "PSZC")


def trigrams(text: str) -> frozenset[str]:
    padded = f"\x02{normalise(text)}\x03"
    if len(padded) < 3:
        return frozenset({padded})
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def similar(a: str, b: str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    return normalise(a) == normalise(b) or jaccard(trigrams(a), trigrams(b)) >= threshold


@dataclass(frozen=True)
class Match(Generic[T]):
    item: T
    score: float  # 1.0 when equal after normalisation


class SimilarityIndex(Generic[T]):
    """Items indexed by their text; `find` returns those at or above the threshold."""

    def __init__(self, items: Iterable[tuple[str, T]],
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        entries = [(normalise(text), trigrams(text), item) for text, item in items]
        self._frequency = Counter(gram for _, grams, _ in entries for gram in grams)
        self._entries = entries
        self._by_norm: dict[str, list[int]] = defaultdict(list)
        self._postings: dict[str, list[int]] = defaultdict(list)
        for index, (norm, grams, _) in enumerate(entries):
            self._by_norm[norm].append(index)
            for gram in self._prefix(grams):
                self._postings[gram].append(index)

    def _prefix(self, grams: frozenset[str]) -> Sequence[str]:
        ordered = sorted(grams, key=lambda g: (self._frequency.get(g, 0), g))
        keep = len(ordered) - math.ceil(self.threshold * len(ordered) - 1e-9) + 1
        return ordered[:max(keep, 1)]

    def find(self, text: str) -> list[Match[T]]:
        norm, grams = normalise(text), trigrams(text)
        found = {i: 1.0 for i in self._by_norm.get(norm, [])}
        for gram in self._prefix(grams):
            for index in self._postings.get(gram, []):
                if index in found:
                    continue
                other = self._entries[index][1]
                if min(len(grams), len(other)) < self.threshold * max(len(grams), len(other)):
                    continue  # sizes too different for the threshold
                score = jaccard(grams, other)
                if score >= self.threshold:
                    found[index] = score
        return [Match(self._entries[i][2], score)
                for i, score in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))]
