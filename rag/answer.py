"""Passages -> a short extractive Answer whose every sentence is cited.

No LLM. Each sentence of the retrieved passages gets an evidence score: semantic similarity
to the question blended with the idf-weighted share of the question's terms it contains
(its section heading's words count at a discount). The answer takes the sentences whose
score, plus a prior from how well their passage was retrieved, is close to the best; then
each chosen sentence brings along the sentences that continue it ("This limits ...",
"In addition, ..."), because a point in a paper often spans several sentences.
It abstains when the best evidence is weak, or when the question asks for a quantity
and no candidate sentence states one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.keyword import terms
from index.models import Answer, Passage
from index.sentences import Sentence
from index.settings import AnswerSettings
from rag.citations import cite, is_heading

__all__ = ["ABSTAIN_MESSAGE", "compose"]

ABSTAIN_MESSAGE = (
    "The indexed documents do not answer this question. The closest passages are listed "
    "below; they are not sufficient to answer it."
)
_SEMANTIC_WEIGHT = 0.55  # the rest is term overlap
_HEADING_WEIGHT = 0.5  # a heading word counts half as much as one in the sentence
_PASSAGE_PRIOR = 0.2  # weight of the passage's retrieval score, relative to the best passage
_KEEP_RATIO = 0.7  # a sentence must reach this share of the best one to join the answer
_REDUNDANT = 0.85  # cosine above which a sentence repeats one already chosen
_MIN_WORDS = 4
_MAX_CONTINUATION = 3
_CONTINUES = re.compile(
    r"^(This|These|Those|Such|It|Its|They|Their|In addition|Additionally|Moreover|Furthermore|"
    r"Also|Currently|In particular|Specifically|For example|For instance|As a result|"
    r"Consequently|Therefore|Thus|Hence)\b"
)
# Questions whose answer is a quantity; their answer sentence must state a number.
_QUANTITY_QUESTION = re.compile(
    r"\bhow (many|much|long|often|old|large|high|low)\b|\b(dose|doses|dosage|percentage|"
    r"proportion|rate|number of|amount|concentration|duration)\b",
    re.IGNORECASE,
)
_CITATION_YEAR = re.compile(r"\((?:[^()]*?\b)?(?:19|20)\d\d[a-z]?\)")

# The stored sentences (with vectors) lying in [start, end) of a document.
SentencesIn = Callable[[str, int, int], list[tuple[Sentence, np.ndarray]]]
Idf = Callable[[list[str]], dict[str, float]]


@dataclass(eq=False)  # identity: candidates are compared with `in`
class _Candidate:
    passage: Passage
    sentence: Sentence
    offset: int  # in the document
    words: int
    evidence: float = 0.0  # how well the sentence itself answers
    score: float = 0.0  # evidence plus the passage prior: the selection order
    vector: np.ndarray = field(default_factory=lambda: np.zeros(0))


def compose(
    question: str,
    passages: Sequence[Passage],
    *,
    query_vector: Sequence[float],
    sentences_in: SentencesIn,
    idf: Idf,
    settings: AnswerSettings,
) -> Answer:
    """The cited extractive answer to `question` from `passages` (best first)."""
    candidates = _candidates(passages[: settings.passages], sentences_in)
    if not candidates:
        return _abstain(question, passages, 0.0)
    _score(question, candidates, np.asarray(query_vector), idf)
    eligible = _eligible(question, candidates)
    best = max((c.evidence for c in eligible), default=0.0)
    if best < settings.min_evidence:
        return _abstain(question, passages, best)
    chosen = _select(eligible, candidates, settings.max_words)
    citations = [cite(n, c.passage, c.sentence) for n, c in enumerate(chosen, start=1)]
    return Answer(
        question=question,
        answer=" ".join(f"{c.sentence.text} [{n}]" for n, c in enumerate(chosen, start=1)),
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


def _candidates(passages: Sequence[Passage], sentences_in: SentencesIn) -> list[_Candidate]:
    """Sentences of the passages, once each (chunks overlap), headings and scraps left out."""
    seen: set[tuple[str, int]] = set()
    out = []
    for passage in passages:
        for stored, vector in sentences_in(passage.doc_id, passage.start, passage.end):
            sentence = Sentence(
                stored.start - passage.start, stored.end - passage.start, stored.text
            )
            words = len(sentence.text.split())
            if (passage.doc_id, stored.start) in seen or words < _MIN_WORDS:
                continue
            if is_heading(sentence, passage):
                continue
            seen.add((passage.doc_id, stored.start))
            out.append(_Candidate(passage, sentence, stored.start, words, vector=vector))
    return out


def _score(question: str, candidates: list[_Candidate], query: np.ndarray, idf: Idf) -> None:
    q_terms = set(terms(question))
    weights = idf(list(q_terms))
    total = sum(weights.values())
    top_passage = max((c.passage.score for c in candidates), default=0.0) or 1.0
    for c in candidates:
        bag = _bag(c)
        overlap = sum(w * bag.get(t, 0.0) for t, w in weights.items()) / total if total else 0.0
        similarity = float(c.vector @ query)
        c.evidence = _SEMANTIC_WEIGHT * similarity + (1 - _SEMANTIC_WEIGHT) * overlap
        c.score = c.evidence + _PASSAGE_PRIOR * _passage_prior(c, candidates) / top_passage


def _bag(c: _Candidate) -> dict[str, float]:
    """The sentence's terms (weight 1) and its section heading's (discounted)."""
    bag: dict[str, float] = {}
    section = c.passage.spans.section_at(c.offset)
    if section is not None:
        bag.update(dict.fromkeys(terms(section.title), _HEADING_WEIGHT))
    bag.update(dict.fromkeys(terms(c.sentence.text), 1.0))
    return bag


def _passage_prior(c: _Candidate, candidates: list[_Candidate]) -> float:
    """Retrieval score of the best passage holding the sentence (chunks overlap)."""
    return max(
        (
            o.passage.score
            for o in candidates
            if o.passage.doc_id == c.passage.doc_id and o.passage.start <= c.offset < o.passage.end
        ),
        default=c.passage.score,
    )


def _eligible(question: str, candidates: list[_Candidate]) -> list[_Candidate]:
    """Candidates that could answer; a quantity question needs a stated number."""
    if not _QUANTITY_QUESTION.search(question):
        return candidates
    return [c for c in candidates if re.search(r"\d", _CITATION_YEAR.sub("", c.sentence.text))]


def _select(
    eligible: list[_Candidate], candidates: list[_Candidate], max_words: int
) -> list[_Candidate]:
    """Best sentences within the budget, each with its continuation; in reading order."""
    ranked = sorted(eligible, key=lambda c: -c.score)
    floor = _KEEP_RATIO * ranked[0].score
    chosen: list[_Candidate] = []
    budget = max_words
    for c in ranked:
        if c.score < floor:
            break
        if c in chosen or c.words > budget or _repeats(c, chosen):
            continue
        chosen.append(c)
        budget -= c.words
    for c in list(chosen):
        for follower in _continuation(c, candidates):
            if follower in chosen or follower.words > budget or _repeats(follower, chosen):
                break
            chosen.append(follower)
            budget -= follower.words
    first = {c.passage.doc_id: i for i, c in reversed(list(enumerate(chosen)))}
    return sorted(chosen, key=lambda c: (first[c.passage.doc_id], c.offset))


def _repeats(c: _Candidate, chosen: list[_Candidate]) -> bool:
    return any(float(c.vector @ o.vector) > _REDUNDANT for o in chosen)


def _continuation(c: _Candidate, candidates: list[_Candidate]) -> list[_Candidate]:
    """The sentences right after `c` in its section that open by referring back to it."""
    section = c.passage.spans.section_at(c.offset)
    following = sorted(
        (
            o
            for o in candidates
            if o.passage.doc_id == c.passage.doc_id
            and o.offset > c.offset
            and o.passage.spans.section_at(o.offset) == section
        ),
        key=lambda o: o.offset,
    )
    out: list[_Candidate] = []
    previous_end = c.offset + len(c.sentence.text)
    for o in following[:_MAX_CONTINUATION]:
        gap = o.offset - previous_end
        if gap > 2 or not _CONTINUES.match(o.sentence.text):
            break
        out.append(o)
        previous_end = o.offset + len(o.sentence.text)
    return out
