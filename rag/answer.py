"""Passages -> a short extractive Answer whose every sentence is cited.

No LLM. Each sentence of the retrieved passages gets an evidence score: semantic similarity
to the question blended with the idf-weighted share of the question's terms it contains
(its section heading's words count at a discount). The answer takes the sentences whose
score, plus a prior from how well their passage was retrieved, is close to the best (closer
still for a sentence outside the best one's passage: each source is one more to check). The
lead sentence brings the sentence it refers back to, and each chosen sentence the ones that
continue it ("This limits ...", "In addition, ..."): a point in a paper often spans several.
It abstains when the passages' support is weak (see `support`), or when the question asks
for a quantity and no candidate sentence states one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.keyword import question_weights, terms, weighted_share
from index.models import Answer, Passage
from index.sentences import Sentence
from index.settings import AnswerSettings
from rag.citations import cite, is_heading

__all__ = [
    "ABSTAIN_MESSAGE",
    "compose",
    "states_quantity",
    "support",
    "support_of",
]

ABSTAIN_MESSAGE = (
    "The indexed documents do not answer this question. The closest passages are listed "
    "below; they are not sufficient to answer it."
)
_SEMANTIC_WEIGHT = 0.55  # the rest is term overlap
_SUPPORT_COSINE = 0.5  # the rest of the support score is the question's term coverage
_UNSEEN_WEIGHT = 0.25  # share of its idf that a term no document contains keeps in coverage
_HEADING_WEIGHT = 0.5  # a heading word counts half as much as one in the sentence
_PASSAGE_PRIOR = 0.2  # weight of the passage's retrieval score, relative to the best passage
_KEEP_RATIO = 0.7  # a sentence must reach this share of the best one to join the answer
# A sentence outside the best one's passage must come closer to the best: each extra
# source is one more for the reader to check (dev: citation precision 0.46 -> 0.60 for
# answer_contains 0.677 -> 0.670; python -m experiments.probe_answer --selection).
_OTHER_PASSAGE_RATIO = 0.85
_REDUNDANT = 0.85  # cosine above which a sentence repeats one already chosen
_MIN_WORDS = 4
_MAX_CONTINUATION = 3
_MAX_ANTECEDENTS = 2
_REFERS_BACK = re.compile(
    r"^(This|These|Those|Such|Its|They|Their|Therefore|Thus|Hence|Consequently|As a result)\b"
)
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
# Digits that state no quantity: citations ("(2019)", "[12, 14]") and names with a number
# in them ("IL-10", "COVID-19", "CD34", "TGF-β1").
_NOT_A_QUANTITY = re.compile(
    r"\((?:[^()]*?\b)?(?:19|20)\d\d[a-z]?\)|\[\d+(?:\s*[,–-]\s*\d+)*\]|\b[^\W\d_]+-?\d+\w*"
)

# The stored sentences (with vectors) lying in [start, end) of a document.
SentencesIn = Callable[[str, int, int], list[tuple[Sentence, np.ndarray]]]
Idf = Callable[[list[str]], dict[str, float]]
Unseen = Callable[[list[str]], set[str]]  # the terms no indexed chunk contains


@dataclass(eq=False)  # identity: candidates are compared with `in`
class _Candidate:
    passage: Passage
    sentence: Sentence
    offset: int  # in the document
    words: int
    similarity: float = 0.0  # cosine to the question
    evidence: float = 0.0  # how well the sentence itself answers
    score: float = 0.0  # evidence plus the passage prior: the selection order
    vector: np.ndarray = field(default_factory=lambda: np.zeros(0))


_ABOUT_FIGURES = re.compile(r"(?i)\b(?:fig(?:ure)?s?|tables?|panels?|plots?|charts?|graphs?)\b")


def compose(
    question: str,
    passages: Sequence[Passage],
    *,
    query_vector: Sequence[float],
    sentences_in: SentencesIn,
    idf: Idf,
    unseen: Unseen,
    settings: AnswerSettings,
    avoid: Collection[str] = (),
) -> Answer:
    """The cited extractive answer to `question` from `passages` (best first); sentences in
    `avoid` (already quoted in the conversation) are left out unless nothing else is eligible."""
    shown = passages[: settings.passages]
    quotable = set(settings.quote_kinds)
    if _ABOUT_FIGURES.search(question):
        quotable.add("caption")
    candidates = _candidates([p for p in shown if p.kind in quotable], sentences_in)
    if not candidates:
        return _abstain(question, passages, 0.0)
    query = np.asarray(query_vector)
    weights = question_weights(question, idf)
    _score(candidates, query, weights)
    cosine = max(c.similarity for c in candidates)
    strength = support(shown, cosine, weights, unseen(list(weights)))
    eligible = _eligible(question, candidates)
    if strength < settings.min_evidence or not eligible:
        return _abstain(question, passages, strength)
    eligible = [c for c in eligible if c.sentence.text not in avoid] or eligible
    chosen = _select(eligible, candidates, settings.max_words)
    citations = [cite(n, c.passage, c.sentence) for n, c in enumerate(chosen, start=1)]
    return Answer(
        question=question,
        answer=" ".join(f"{c.sentence.text} [{n}]" for n, c in enumerate(chosen, start=1)),
        abstained=False,
        citations=citations,
        passages=list(passages),
        evidence_score=round(strength, 4),
    )


def support(
    passages: Sequence[Passage], cosine: float, weights: dict[str, float], unseen: set[str]
) -> float:
    """Whether the passages answer at all: the best sentence's cosine to the question,
    averaged with how much of the question one document's passages cover.

    A related text can be close in meaning yet lack what the question is about (the drug,
    the cohort); the rare terms it misses catch that. A term no document has counts at a
    discount: it may be the user's paraphrase ("barriers" for "challenges"). Calibrated on
    PubMedQA dev with abstracts held out (python -m experiments.probe_answer; docs/retrieval.md)."""
    by_doc: dict[str, set[str]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, set(terms(p.title))).update(terms(p.text))
    return support_of(cosine, list(by_doc.values()), weights, unseen)


def support_of(
    cosine: float,
    documents: Sequence[Collection[str]],
    weights: dict[str, float],
    unseen: Collection[str],
    *,
    cosine_weight: float = _SUPPORT_COSINE,
    unseen_weight: float = _UNSEEN_WEIGHT,
) -> float:
    """`support` from each document's terms; the weights are open for experiments.probe_answer."""
    weights = {t: w * (unseen_weight if t in unseen else 1.0) for t, w in weights.items()}
    covered = max((weighted_share(d, weights) for d in documents), default=0.0)
    return cosine_weight * cosine + (1 - cosine_weight) * covered


def _abstain(question: str, passages: Sequence[Passage], strength: float) -> Answer:
    return Answer(
        question=question,
        answer=ABSTAIN_MESSAGE,
        abstained=True,
        passages=list(passages),
        evidence_score=round(strength, 4),
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


def _score(candidates: list[_Candidate], query: np.ndarray, weights: dict[str, float]) -> None:
    total = sum(weights.values())
    top_passage = max((c.passage.score for c in candidates), default=0.0) or 1.0
    for c in candidates:
        bag = _bag(c)
        overlap = sum(w * bag.get(t, 0.0) for t, w in weights.items()) / total if total else 0.0
        c.similarity = float(c.vector @ query)
        c.evidence = _SEMANTIC_WEIGHT * c.similarity + (1 - _SEMANTIC_WEIGHT) * overlap
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
    return [c for c in candidates if states_quantity(c.sentence.text)]


def states_quantity(text: str) -> bool:
    """Whether `text` has a number beyond citations and names such as IL-10 or COVID-19."""
    return bool(re.search(r"\d", _NOT_A_QUANTITY.sub("", text)))


def _select(
    eligible: list[_Candidate], candidates: list[_Candidate], max_words: int
) -> list[_Candidate]:
    """Best sentences within the budget, each with its continuation; in reading order."""
    ranked = sorted(eligible, key=lambda c: -c.score)
    floor = _KEEP_RATIO * ranked[0].score
    elsewhere = _OTHER_PASSAGE_RATIO * ranked[0].score
    home = ranked[0].passage
    chosen: list[_Candidate] = []
    budget = max_words
    for c in ranked:
        if c.score < floor:
            break
        if not _inside(c, home) and c.score < elsewhere:
            continue
        if c in chosen or c.words > budget or _repeats(c, chosen):
            continue
        # The answer's lead sentence must make sense alone: "This limits ..." needs the
        # sentence saying what limits.
        lead = _antecedents(c, candidates) if not chosen else []
        for o in [*lead, c]:
            if o is c or o.words + c.words <= budget:
                chosen.append(o)
                budget -= o.words
    for c in list(chosen):
        for follower in _continuation(c, candidates):
            if follower in chosen or follower.words > budget or _repeats(follower, chosen):
                break
            chosen.append(follower)
            budget -= follower.words
    first = {c.passage.doc_id: i for i, c in reversed(list(enumerate(chosen)))}
    return sorted(chosen, key=lambda c: (first[c.passage.doc_id], c.offset))


def _inside(c: _Candidate, passage: Passage) -> bool:
    return (
        c.passage.doc_id == passage.doc_id
        and passage.start <= c.offset
        and c.offset + len(c.sentence.text) <= passage.end
    )


def _repeats(c: _Candidate, chosen: list[_Candidate]) -> bool:
    return any(float(c.vector @ o.vector) > _REDUNDANT for o in chosen)


def _antecedents(c: _Candidate, candidates: list[_Candidate]) -> list[_Candidate]:
    """The sentences right before `c` that it refers back to, nearest last."""
    out: list[_Candidate] = []
    current = c
    while _REFERS_BACK.match(current.sentence.text) and len(out) < _MAX_ANTECEDENTS:
        before = _neighbour(current, candidates, after=False)
        if before is None:
            break
        out.insert(0, before)
        current = before
    return out


def _continuation(c: _Candidate, candidates: list[_Candidate]) -> list[_Candidate]:
    """The sentences right after `c` in its section that open by referring back to it."""
    out: list[_Candidate] = []
    current = c
    while len(out) < _MAX_CONTINUATION:
        follower = _neighbour(current, candidates, after=True)
        if follower is None or not _CONTINUES.match(follower.sentence.text):
            break
        out.append(follower)
        current = follower
    return out


def _neighbour(c: _Candidate, candidates: list[_Candidate], *, after: bool) -> _Candidate | None:
    """The candidate sentence right after (or before) `c` in the same section, if any."""
    section = c.passage.spans.section_at(c.offset)
    for o in candidates:
        if o.passage.doc_id != c.passage.doc_id or o is c:
            continue
        if after:
            gap = o.offset - (c.offset + len(c.sentence.text))
        else:
            gap = c.offset - (o.offset + len(o.sentence.text))
        if 0 <= gap <= 2 and o.passage.spans.section_at(o.offset) == section:
            return o
    return None
