"""Metric functions on plain values; docs/evaluation.md gives each one's formula."""

from __future__ import annotations

import itertools
import math
import re
import string
from collections import Counter
from collections.abc import Sequence

__all__ = [
    "contains_answer",
    "cosine",
    "hit_at",
    "mean",
    "ndcg_at",
    "normalize_answer",
    "percentile",
    "reciprocal_rank",
    "reliability",
    "strip_citation_marks",
    "token_f1",
    "token_recall",
]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MARKS = re.compile(r"\s*\[\d+\]")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def strip_citation_marks(answer: str) -> str:
    """'It works [1]. Also [2].' -> 'It works. Also.'"""
    return _MARKS.sub("", answer)


def contains_answer(prediction: str, references: Sequence[str]) -> bool:
    """The normalised prediction contains some normalised reference (an empty one never)."""
    pred = f" {normalize_answer(prediction)} "
    return any((ref := normalize_answer(r)) and f" {ref} " in pred for r in references)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """Best SQuAD token F1 over the references; 0.0 when there is nothing to compare."""
    pred = normalize_answer(prediction).split()
    return max((_f1(pred, normalize_answer(r).split()) for r in references), default=0.0)


def token_recall(prediction: str, references: Sequence[str]) -> float:
    """Best share of a reference's tokens that the prediction holds (multiset); 0.0 without
    references. Whole-sentence answers are long, so recall, not F1, says if the answer is in."""
    pred = Counter(normalize_answer(prediction).split())
    best = 0.0
    for r in references:
        gold = Counter(normalize_answer(r).split())
        if gold:
            best = max(best, sum((pred & gold).values()) / sum(gold.values()))
    return best


def _f1(pred: list[str], gold: list[str]) -> float:
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def hit_at(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant passage is among the first k."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int = 10) -> float:
    """1 / rank of the first relevant passage within the first k; 0.0 if none."""
    return next((1.0 / (i + 1) for i, r in enumerate(relevant[:k]) if r), 0.0)


def ndcg_at(relevant: Sequence[bool], n_relevant: int, k: int = 10) -> float:
    """Binary-gain nDCG@k; the ideal ranking puts min(n_relevant, k) relevant passages first."""
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_relevant, k)))
    if ideal == 0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(relevant[:k]) if r)
    return min(dcg / ideal, 1.0)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return dot / norm if norm else 0.0


def mean(values: Sequence[float]) -> float | None:
    """The average, or None for no values (the metric does not apply)."""
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def reliability(
    scores: Sequence[float], answerable: Sequence[bool], bins: int = 10
) -> list[dict[str, float | int | str]]:
    """A reliability curve: per score bin (width 1/bins), how many questions, their mean score
    and the share of them that the documents answer. A calibrated score tracks that share."""
    out: list[dict[str, float | int | str]] = []
    edges = [i / bins for i in range(bins + 1)]
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        inside = [
            (s, a)
            for s, a in zip(scores, answerable, strict=True)
            if lo <= s and (s < hi or (i == bins - 1 and s <= hi))
        ]
        if inside:
            out.append(
                {
                    "bin": f"{lo:.1f}-{hi:.1f}",
                    "n": len(inside),
                    "mean_score": sum(s for s, _ in inside) / len(inside),
                    "answerable": sum(a for _, a in inside) / len(inside),
                }
            )
    return out
