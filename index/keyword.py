"""Keyword terms: how the BM25 side and the answerer see words.

Lower-cased word tokens, English stopwords and question words dropped, Snowball-stemmed
with two repairs Snowball lacks (British -ise spellings, acronym plurals such as MSCs).
The BM25 index adds bigrams of neighbouring terms, so phrases ("cord blood", "incubation
period") outrank documents that merely contain both words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Any

__all__ = [
    "QUESTION_WORDS",
    "index_terms",
    "question_weights",
    "terms",
    "weighted_share",
    "with_bigrams",
]

# Stemmed words that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    "what which who whom whose why how when where whi doe do did is are was were can could "
    "should would will mani much describ explain tell list name main kind type role use".split()
)
_WORD = re.compile(r"(?u)\b\w\w+\b")
_BRITISH = re.compile(r"is(ation|ations|e|es|ed|ing)$")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """Snowball, plus spelling variants and acronym plurals it leaves apart."""
    if len(word) > 6:
        word = _BRITISH.sub(r"iz\1", word)  # standardisation ~ standardization
    stem: str = _snowball().stemWord(word)
    if len(stem) >= 3 and stem.endswith("s") and not re.search(r"[aeiouy]", stem[:-1]):
        stem = stem[:-1]  # MSCs ~ MSC: Snowball keeps the s when no vowel precedes it
    return stem


@lru_cache(maxsize=1)
def _snowball() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Stemmed content terms of `text`, in order."""
    stop = _stopwords()
    stems = (_stem(w) for w in _WORD.findall(text.lower()) if w not in stop)
    return [s for s in stems if s not in QUESTION_WORDS]


def index_terms(text: str) -> list[str]:
    """Terms plus bigrams of neighbouring terms: the BM25 vocabulary."""
    return with_bigrams(terms(text))


def with_bigrams(unigrams: Sequence[str]) -> list[str]:
    """`unigrams` followed by each pair of neighbours joined as one term ("cord_blood")."""
    return list(unigrams) + [f"{a}_{b}" for a, b in pairwise(unigrams)]


def weighted_share(present: Collection[str], weights: Mapping[str, float]) -> float:
    """The share of the total weight (e.g. a question's term idfs) that `present` holds."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def question_weights(
    question: str, idf: Callable[[list[str]], dict[str, float]]
) -> dict[str, float]:
    """The question's terms with their idf: a rare term says more about what is asked."""
    return idf(sorted(set(terms(question))))
