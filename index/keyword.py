"""Keyword terms: how the BM25 side and the answerer see words.

Lower-cased word tokens, English stopwords and question words dropped, Snowball-stemmed
with two repairs Snowball lacks (British -ise spellings, acronym plurals such as MSCs).
The BM25 index adds bigrams of neighbouring terms, so phrases ("cord blood", "incubation
period") outrank documents that merely contain both words.

The answerer weighs a question's terms by their words' rarity in general English
(`general_weights`, from wordfreq) rather than by idf over the index: a weight that moves
whenever a paper is added made answers and abstentions change with unrelated papers
(docs/retrieval.md, "Answers in a real library").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Any

__all__ = [
    "QUESTION_WORDS",
    "content_words",
    "everyday_terms",
    "general_weights",
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
# Zipf frequency (log10 of uses per billion words) of English: a term's weight is how much
# rarer than this its word is; a word from this frequency on is everyday English.
_COMMONEST = 8.0
_MIN_WEIGHT = 0.5
_EVERYDAY = 4.0  # 10 uses per million words: "barriers", "problem", "kill"; not "burnout"
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


def content_words(text: str) -> list[str]:
    """Lower-cased words of `text` that are not stopwords, unstemmed, in order."""
    stop = _stopwords()
    return [w for w in _WORD.findall(text.lower()) if w not in stop]


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


def general_weights(question: str) -> dict[str, float]:
    """The question's terms, each weighted by how rare its word is in general English
    (wordfreq's Zipf scale): like idf, but the same whatever else is indexed."""
    out: dict[str, float] = {}
    for word in _WORD.findall(question.lower()):
        weight = max(_MIN_WEIGHT, _COMMONEST - _zipf(word))
        for term in terms(word):
            out[term] = max(out.get(term, 0.0), weight)
    return out


def everyday_terms(question: str) -> set[str]:
    """The question's terms whose words are everyday English, which the user may have put
    in other words than the text ("barriers" for "challenges"); a rare word missing (a
    drug, a place, "burnout") means the text is about something else."""
    return {t for w in _WORD.findall(question.lower()) if _zipf(w) >= _EVERYDAY for t in terms(w)}


@lru_cache(maxsize=100_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))
