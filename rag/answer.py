"""Passages -> a short extractive Answer whose every sentence is cited.

No LLM: the answer is made of the sentences that best answer the question, each followed
by its [n] marker. A sentence's score blends semantic similarity to the question with
the idf-weighted share of the question's terms it contains. When the best sentence is
weak, the answer abstains and lists the closest passages instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.keyword import terms
from index.models import Answer, Citation, Passage
from index.settings import AnswerSettings
from rag.citations import Sentence, cite, is_heading, split_sentences

__all__ = ["ABSTAIN_MESSAGE", "compose"]

ABSTAIN_MESSAGE = (
    "The indexed documents do not answer this question. The closest passages are listed "
    "below; they are not sufficient to answer it."
)
# Stemmed words that say what kind of answer is wanted, not what it is about.
_QUESTION_WORDS = frozenset(
    "what which who whom whose why how when where whi doe do did is are was were can could "
    "should would will mani much describ explain tell list name main kind type role".split()
)
_SEMANTIC_WEIGHT = 0.55
_MIN_WORDS = 4
_HEADING_WEIGHT = 0.5  # a heading word counts half as much as one in the sentence
_FEEDBACK_WEIGHT = 0.3
_REDUNDANT = 0.85  # cosine above which a sentence repeats one already chosen
_KEEP_RATIO = 0.75  # a sentence must score this share of the best one to join the answer

Embed = Callable[[list[str]], list[list[float]]]
Idf = Callable[[list[str]], dict[str, float]]


@dataclass
class _Candidate:
    rank: int  # of its passage
    passage: Passage
    sentence: Sentence
    words: int
    base: float = 0.0  # evidence before feedback
    score: float = 0.0
    vector: np.ndarray | None = None


def compose(
    question: str,
    passages: Sequence[Passage],
    *,
    query_vector: Sequence[float],
    embed: Embed,
    idf: Idf,
    settings: AnswerSettings,
) -> Answer:
    """The cited extractive answer to `question` from `passages` (best first)."""
    candidates = _candidates(passages[: settings.passages])
    if not candidates:
        return _abstain(question, passages, 0.0)
    _score(question, candidates, np.asarray(query_vector), embed, idf)
    best = max(c.base for c in candidates)
    if best < settings.min_evidence:
        return _abstain(question, passages, best)
    chosen = _select(candidates, best, settings.max_words)
    citations: list[Citation] = []
    parts = []
    for c in chosen:
        citations.append(cite(len(citations) + 1, c.passage, c.sentence))
        parts.append(f"{c.sentence.text} [{len(citations)}]")
    return Answer(
        question=question,
        answer=" ".join(parts),
        abstained=False,
        citations=citations,
        passages=list(passages),
        evidence_score=round(best, 4),
    )


def _abstain(question: str, passages: Sequence[Passage], best: float) -> Answer:
    return Answer(
        question=question,
        answer=ABSTAIN_MESSAGE,
        abstained=True,
        passages=list(passages),
        evidence_score=round(best, 4),
    )


def _candidates(passages: Sequence[Passage]) -> list[_Candidate]:
    seen: set[tuple[str, int]] = set()
    out = []
    for rank, passage in enumerate(passages):
        for sentence in split_sentences(passage.text):
            key = (passage.doc_id, passage.start + sentence.start)
            words = len(sentence.text.split())
            if key in seen or words < _MIN_WORDS or is_heading(sentence, passage):
                continue
            seen.add(key)
            out.append(_Candidate(rank, passage, sentence, words))
    return out


def _score(
    question: str, candidates: list[_Candidate], query: np.ndarray, embed: Embed, idf: Idf
) -> None:
    """Semantic similarity plus idf-weighted term overlap, then one round of feedback.

    A sentence also owns, at a discount, the words of its section heading ("4.4 Technical
    challenges of ..."). Feedback adds the best sentence's own terms as a weaker second
    query (RM3-style), which brings in sentences that say the same thing in other words.
    """
    q_terms = {t for t in terms(question) if t not in _QUESTION_WORDS}
    bags = [_bag(c) for c in candidates]
    vectors = np.asarray(embed([c.sentence.text for c in candidates]))
    semantic = vectors @ query
    lexical = _overlap(q_terms, bags, idf)
    for c, vec, sem, lex in zip(candidates, vectors, semantic, lexical, strict=True):
        c.vector = vec
        c.base = c.score = float(_SEMANTIC_WEIGHT * sem + (1 - _SEMANTIC_WEIGHT) * lex)
    top = max(range(len(candidates)), key=lambda i: candidates[i].base)
    feedback = {t for t, w in bags[top].items() if w == 1.0} - q_terms - _QUESTION_WORDS
    for i, (c, fb) in enumerate(zip(candidates, _overlap(feedback, bags, idf), strict=True)):
        if i != top:
            c.score += _FEEDBACK_WEIGHT * fb


def _bag(c: _Candidate) -> dict[str, float]:
    """The sentence's terms (weight 1) and its section heading's (discounted)."""
    bag: dict[str, float] = {}
    section = c.passage.spans.section_at(c.passage.start + c.sentence.start)
    if section is not None:
        bag.update(dict.fromkeys(terms(section.title), _HEADING_WEIGHT))
    bag.update(dict.fromkeys(terms(c.sentence.text), 1.0))
    return bag


def _overlap(query_terms: set[str], bags: list[dict[str, float]], idf: Idf) -> list[float]:
    """Idf-weighted share of `query_terms` each bag contains."""
    weights = idf(list(query_terms))
    total = sum(weights.values())
    if not total:
        return [0.0] * len(bags)
    return [sum(w * bag.get(t, 0.0) for t, w in weights.items()) / total for bag in bags]


def _select(candidates: list[_Candidate], best: float, max_words: int) -> list[_Candidate]:
    """Greedy by score, skipping near-duplicates, within the word budget; document order."""
    chosen: list[_Candidate] = []
    words = 0
    for c in sorted(candidates, key=lambda c: -c.score):
        if c.score < _KEEP_RATIO * best:
            break
        if words + c.words > max_words:
            continue
        if any(float(c.vector @ o.vector) > _REDUNDANT for o in chosen):  # type: ignore[operator]
            continue
        chosen.append(c)
        words += c.words
    first_rank = {}
    for c in chosen:
        first_rank.setdefault(c.passage.doc_id, c.rank)
    return sorted(
        chosen,
        key=lambda c: (
            first_rank[c.passage.doc_id],
            c.passage.doc_id,
            c.passage.start + c.sentence.start,
        ),
    )
