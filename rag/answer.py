"""Passages -> a short extractive Answer whose every sentence is cited.

No LLM. Each sentence of the retrieved passages gets an evidence score: semantic similarity
to the question blended with the idf-weighted share of the question's terms it contains
(its section heading's words count at a discount). The answer takes the sentences whose
score, plus a prior from how well their passage was retrieved, is close to the best (closer
still outside the best one's passage: each source is one more to check; quoting only the
best one's document cost COVID-QA dev answer_contains 0.662 -> 0.638). The best sentence
leads, after the sentence it refers back to when it cannot stand alone ("This limits ...");
the others follow in reading order, each with the sentences continuing it ("In addition,
..."). Title and heading lines are never quoted.

It abstains when the support score is low (`support_score`: a logistic regression over
`support_features`, fitted on dev questions by `python -m eval.calibrate`), or when the
question asks for a quantity and no candidate sentence states one.

Term weights come from general-English word frequency (`index.keyword.general_weights`), not
from idf over the index, so that neither the sentences chosen nor the abstention change when
unrelated papers or copies are added (eval.trust).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from index.keyword import (
    content_words,
    everyday_terms,
    general_weights,
    terms,
    weighted_share,
    with_bigrams,
)
from index.models import Answer, Passage
from index.sentences import Sentence
from index.settings import AnswerSettings
from rag.citations import cite, is_heading

__all__ = [
    "ABSTAIN_MESSAGE",
    "compose",
    "states_quantity",
    "support",
    "support_features",
    "support_of",
    "support_score",
    "word_match",
]

ABSTAIN_MESSAGE = (
    "The indexed documents do not answer this question. The closest passages are listed "
    "below; they are not sufficient to answer it."
)
_SEMANTIC_WEIGHT = 0.55  # the rest is term overlap
_SUPPORT_COSINE = 0.5  # the rest of the support score is the question's term coverage
_EVERYDAY_WEIGHT = 0.25  # share of its weight an everyday word the text lacks keeps in coverage
# Logistic regression over the support features, fitted on dev splits only (COVID-QA dev,
# PubMedQA dev with 100 abstracts held out, the seed set's and the trust set's dev halves)
# by `python -m eval.calibrate` on 2026-12-01; the threshold is answer.min_evidence. All
# three features are the answering document's own: its best sentence's cosine, its coverage
# of the question's terms, and how near it comes to the words it lacks (docs/retrieval.md).
_CALIBRATION: dict[str, float] = {
    "bias": -14.53,
    "answer_cosine": 9.355,
    "answer_coverage": 5.378,
    "answer_word_match": 12.627,
}
_HEADING_WEIGHT = 0.5  # a heading word counts half as much as one in the sentence
# Weight of the passage's own coverage of the question (relative to the best passage's): the
# context a sentence sits in. Not the retrieval score, which moves with the other documents
# indexed; without any prior, COVID-QA dev answer_contains fell 0.658 -> 0.636.
_PASSAGE_PRIOR = 0.2
_KEEP_RATIO = 0.7  # a sentence must reach this share of the best one to join the answer
# A sentence outside the best one's passage must come closer to the best: each extra
# source is one more for the reader to check (dev: citation precision 0.46 -> 0.60 for
# answer_contains 0.677 -> 0.670; python -m experiments.probe_answer --selection). 0.86 with
# the passage prior of `_passage_coverage`: COVID-QA dev precision 0.595 -> 0.602 for
# answer_contains 0.664 -> 0.664.
_OTHER_PASSAGE_RATIO = 0.86
_REDUNDANT = 0.85  # cosine above which a sentence repeats one already chosen
_MIN_WORDS = 4
_MAX_TITLE_WORDS = 20
_MAX_CONTINUATION = 3
_MAX_ANTECEDENTS = 2
_MAX_LIST_ITEMS = 8  # a list is quoted whole, lead-in and items, up to this many items
_REFERS_BACK = re.compile(
    r"^(This|These|Those|Such|Its|They|Their|Therefore|Thus|Hence|Consequently|As a result)\b"
)
# A list item that is no sentence of its own ("(i) experience of ...", "• bone marrow,"),
# so it needs its lead-in ("... covering:"); "(1) HAdV-55 may cause ..." stands alone, and
# so does a lower-case "where T is ..." after an equation's lead-in.
_LIST_ITEM = re.compile(r"^(?:\(?(?:[ivx]{1,4}|[a-h]|\d{1,2})\)|[•▪◦‣–—-])\s+[a-z]")
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
# A document's sentence count and how many of its sentences hold each of some terms.
TermCounts = Callable[[str, Sequence[str]], tuple[int, dict[str, int]]]
# Single words, each embedded alone: normalised rows in order.
WordVectors = Callable[[Sequence[str]], np.ndarray]
Idf = Callable[[list[str]], dict[str, float]]


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


_WORD = re.compile(r"\w+")
_ABOUT_FIGURES = re.compile(r"(?i)\b(?:fig(?:ure)?s?|tables?|panels?|plots?|charts?|graphs?)\b")


def compose(
    question: str,
    passages: Sequence[Passage],
    *,
    query_vector: Sequence[float],
    sentences_in: SentencesIn,
    term_counts: TermCounts,
    settings: AnswerSettings,
    word_vectors: WordVectors,
    avoid: Collection[str] = (),
) -> Answer:
    """The cited extractive answer to `question` from `passages` (best first); sentences in
    `avoid` (already quoted in the conversation) are left out unless nothing else is eligible."""
    shown = passages[: settings.passages]
    quotable = set(settings.quote_kinds)
    if _ABOUT_FIGURES.search(question):
        quotable.add("caption")
    quotable_passages = [p for p in shown if p.kind in quotable]
    candidates = _candidates(quotable_passages, sentences_in)
    if not candidates:
        return _abstain(question, passages, 0.0)
    query = np.asarray(query_vector)
    weights = general_weights(question)
    _score(candidates, quotable_passages, query, weights, term_counts)
    eligible = _eligible(question, candidates)
    # The document the answer would quote: its own passages and best sentence, which no
    # other indexed document can lend to or take from.
    best = max(eligible or candidates, key=lambda c: c.score)
    own = [p for p in shown if p.doc_id == best.passage.doc_id]
    features = _features(shown, candidates, eligible, best, own, weights, everyday_terms(question))
    features["answer_word_match"] = word_match(question, own, word_vectors)
    strength = support_score(features)
    if strength < settings.min_evidence or not eligible:
        return _abstain(question, passages, strength, features)
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
        weak_support=strength < settings.weak_support,
        support_features=_rounded(features),
    )


def _features(
    shown: Sequence[Passage],
    candidates: list[_Candidate],
    eligible: list[_Candidate],
    best: _Candidate,
    own: list[Passage],
    weights: dict[str, float],
    everyday: set[str],
) -> dict[str, float]:
    """The features `eval.calibrate` compares: every shown document's view, and the view of
    the document the answer would quote (`answer_*`: `best` is its best sentence, `own` its
    passages)."""
    pool = eligible or candidates
    home = best.passage.doc_id
    cosine = max(c.similarity for c in pool if c.passage.doc_id == home)
    answer_view = support_features(own, cosine, weights, everyday)
    best_cosine = max(c.similarity for c in candidates)
    return {
        # The hand-set score: best cosine averaged with coverage, everyday words discounted.
        "support": support(shown, best_cosine, weights, everyday),
        **support_features(shown, best_cosine, weights, everyday),
        **{f"answer_{k}": v for k, v in answer_view.items()},
        # Retrievers' agreement: the answer's sentence lies in the passage ranked first.
        "lead_in_top": float(_inside(best, shown[0])),
        "answer_passages": len(own) / len(shown),
        # A quantity asked and one stated (otherwise the answer abstains whatever the score).
        "eligible": float(bool(eligible)),
    }


def word_match(question: str, passages: Sequence[Passage], word_vectors: WordVectors) -> float:
    """How near the passages come to the question's words they lack: over those words, the
    lowest best cosine to a word of the passages, each word embedded alone; 1.0 when none is
    missing. A paraphrase finds a near word ("sleeplessness" ~ "insomnia" 0.64, "hard" ~
    "difficult" 0.80); a subject the paper lacks does not ("caffeine" 0.39, "burnout" 0.37).
    Trust set dev AUC 0.96 against 0.59 for the support score before
    (experiments/probe_answerable.py)."""
    present = set().union(*_terms_by_document(passages).values())
    surface: dict[str, str] = {}
    for word in content_words(question):
        for t in terms(word):
            surface.setdefault(t, word)
    missing = [w for t, w in surface.items() if t not in present]
    if not missing:
        return 1.0
    words = sorted({w for p in passages for w in content_words(p.text)})
    if not words:
        return 0.0
    return float((word_vectors(missing) @ word_vectors(words).T).max(axis=1).min())


def _rounded(features: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in features.items()}


def support(
    passages: Sequence[Passage], cosine: float, weights: dict[str, float], everyday: set[str]
) -> float:
    """Whether the passages answer at all: the best sentence's cosine to the question,
    averaged with how much of the question one document's passages cover.

    A related text can be close in meaning yet lack what the question is about (the drug,
    the cohort); the rare terms it misses catch that. An everyday word counts at a discount:
    it may be the user's paraphrase ("barriers" for "challenges"). Calibrated on dev
    questions (python -m eval.calibrate; docs/retrieval.md)."""
    return support_of(cosine, list(_terms_by_document(passages).values()), weights, everyday)


def support_features(
    passages: Sequence[Passage],
    cosine: float,
    weights: dict[str, float],
    everyday: Collection[str],
) -> dict[str, float]:
    """`cosine` with the question's weighted coverage by the one document whose passages
    cover most: in full (`coverage`) and with an everyday word (that the user may have put
    in their own words) at a quarter of its weight (`coverage_discounted`)."""
    by_doc = _terms_by_document(passages)
    discounted = {t: w * (_EVERYDAY_WEIGHT if t in everyday else 1.0) for t, w in weights.items()}
    best = max(by_doc.values(), key=lambda d: weighted_share(d, discounted), default=set())
    return {
        "cosine": cosine,
        "coverage": weighted_share(best, weights),
        "coverage_discounted": weighted_share(best, discounted),
    }


def support_score(features: dict[str, float]) -> float:
    """The probability that the passages answer: a logistic regression over
    `support_features`, fitted on dev questions answerable and not (eval.calibrate)."""
    z = _CALIBRATION["bias"] + sum(w * features[k] for k, w in _CALIBRATION.items() if k != "bias")
    return float(1.0 / (1.0 + np.exp(-z)))


def support_of(
    cosine: float,
    documents: Sequence[Collection[str]],
    weights: dict[str, float],
    discounted: Collection[str],
    *,
    cosine_weight: float = _SUPPORT_COSINE,
    discount: float = _EVERYDAY_WEIGHT,
) -> float:
    """`support` from each document's terms, with the `discounted` terms at `discount` of
    their weight; the weights are open for experiments.probe_answer."""
    weights = {t: w * (discount if t in discounted else 1.0) for t, w in weights.items()}
    covered = max((weighted_share(d, weights) for d in documents), default=0.0)
    return cosine_weight * cosine + (1 - cosine_weight) * covered


def _abstain(
    question: str,
    passages: Sequence[Passage],
    strength: float,
    features: dict[str, float] | None = None,
) -> Answer:
    return Answer(
        question=question,
        answer=ABSTAIN_MESSAGE,
        abstained=True,
        passages=list(passages),
        evidence_score=round(strength, 4),
        support_features=_rounded(features or {}),
    )


def _candidates(passages: Sequence[Passage], sentences_in: SentencesIn) -> list[_Candidate]:
    """Sentences of the passages, once each (chunks overlap), headings and scraps left out."""
    seen: set[tuple[str, int]] = set()
    out = []
    # In document order: a sentence two overlapping chunks hold belongs to the same one
    # whatever order retrieval gave them.
    for passage in sorted(passages, key=lambda p: (p.doc_id, p.start)):
        for stored, vector in sentences_in(passage.doc_id, passage.start, passage.end):
            sentence = Sentence(
                stored.start - passage.start, stored.end - passage.start, stored.text
            )
            words = len(sentence.text.split())
            if (passage.doc_id, stored.start) in seen or words < _MIN_WORDS:
                continue
            if is_heading(sentence, passage) or _is_title_line(sentence, passage):
                continue
            seen.add((passage.doc_id, stored.start))
            out.append(_Candidate(passage, sentence, stored.start, words, vector=vector))
    return out


def _is_title_line(sentence: Sentence, passage: Passage) -> bool:
    """The document's title, or a line of its own without a full stop: an unnumbered
    heading or a text file's title ("Sleep and memory consolidation: lecture notes"), which
    cleaning puts in a paragraph of its own. A sentence or a list item runs on or ends in
    punctuation."""
    text = sentence.text.strip()
    if passage.title and text.rstrip(".") == passage.title.strip().rstrip("."):
        return True
    after = passage.text[sentence.end : sentence.end + 1]
    before = passage.text[sentence.start - 1 : sentence.start] if sentence.start else "\n"
    return (
        after in ("", "\n")
        and before == "\n"
        and not text.endswith((".", "?", "!", ":", ";", ",", ")", "]"))
        and not _LIST_ITEM.match(text)  # "(ii) beliefs about their diagnosis, and"
        and len(text.split()) <= _MAX_TITLE_WORDS
    )


def _score(
    candidates: list[_Candidate],
    passages: Sequence[Passage],
    query: np.ndarray,
    weights: dict[str, float],
    term_counts: TermCounts,
) -> None:
    """Each candidate's similarity, evidence and score, from the question, its own document
    and the passages holding it: nothing that changes with the other documents indexed."""
    in_document = {
        doc: _within(weights, *term_counts(doc, list(weights)))
        for doc in {c.passage.doc_id for c in candidates}
    }
    coverage = {p.chunk_id: _passage_coverage(p, weights) for p in passages}
    priors = []
    for c in candidates:
        # Of the chunks holding the sentence, the one covering most of the question cites it.
        p = max(_holding(c, passages), key=lambda p: (coverage[p.chunk_id], -p.start))
        if p is not c.passage:
            c.passage = p
            c.sentence = Sentence(
                c.offset - p.start, c.offset - p.start + len(c.sentence.text), c.sentence.text
            )
        priors.append(coverage[p.chunk_id])
    top = max(priors, default=0.0) or 1.0
    for c, prior in zip(candidates, priors, strict=True):
        own = in_document[c.passage.doc_id]
        c.similarity = float(c.vector @ query)
        c.evidence = _SEMANTIC_WEIGHT * c.similarity + (1 - _SEMANTIC_WEIGHT) * _overlap(c, own)
        c.score = c.evidence + _PASSAGE_PRIOR * prior / top


def _terms_by_document(passages: Sequence[Passage]) -> dict[str, set[str]]:
    """Each document's terms in `passages`, its title's included."""
    by_doc: dict[str, set[str]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, set(_text_terms(p.title))).update(_text_terms(p.text))
    return by_doc


@lru_cache(maxsize=4096)
def _text_terms(text: str) -> tuple[str, ...]:
    """`terms`, remembered: one question reads each passage's terms four times over."""
    return tuple(terms(text))


def _passage_coverage(passage: Passage, weights: dict[str, float]) -> float:
    """How much of the question the passage holds: half the weighted share of its terms, half
    the share of its neighbouring term pairs ("cord blood") the passage has as neighbours too.
    COVID-QA dev citation precision 0.579 -> 0.595 against the terms alone."""
    words = _text_terms(passage.text)
    share = weighted_share(set(words), weights)
    asked = list(weights)  # the question's terms in its order
    pairs = {f"{a}_{b}" for a, b in itertools.pairwise(asked)}
    if not pairs:
        return share
    return 0.5 * share + 0.5 * len(pairs & set(with_bigrams(words))) / len(pairs)


def _overlap(c: _Candidate, weights: dict[str, float]) -> float:
    total = sum(weights.values())
    bag = _bag(c)
    return sum(w * bag.get(t, 0.0) for t, w in weights.items()) / total if total else 0.0


def _within(weights: dict[str, float], n: int, counts: dict[str, int]) -> dict[str, float]:
    """The question's weights scaled by each term's rarity among its document's `n`
    sentences (`counts`: how many hold it): a term most of the paper's sentences hold
    ("virus" in a virology paper) tells little about which one answers. The whole document,
    not the passages shown, so that the weights do not move with retrieval."""
    return {t: w * math.log(1 + (n + 1) / (counts.get(t, 0) + 0.5)) for t, w in weights.items()}


def _holding(c: _Candidate, passages: Sequence[Passage]) -> list[Passage]:
    """The passages that hold the whole sentence (chunks overlap)."""
    return [p for p in passages if _inside(c, p)]


def _bag(c: _Candidate) -> dict[str, float]:
    """The sentence's terms (weight 1) and its section heading's (discounted)."""
    bag: dict[str, float] = {}
    section = c.passage.spans.section_at(c.offset)
    if section is not None:
        bag.update(dict.fromkeys(terms(section.title), _HEADING_WEIGHT))
    bag.update(dict.fromkeys(terms(c.sentence.text), 1.0))
    return bag


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
    """Best sentences within the budget, each with the sentences that continue it; the best
    one leads (see `_lead_first`)."""
    ranked = sorted(eligible, key=lambda c: -c.score)
    floor = _KEEP_RATIO * ranked[0].score
    elsewhere = _OTHER_PASSAGE_RATIO * ranked[0].score
    passages = list({c.passage.chunk_id: c.passage for c in candidates}.values())
    home = _holding(ranked[0], passages)
    chosen: list[_Candidate] = []
    budget = max_words
    for c in ranked:
        if c.score < floor:
            break
        if not any(_inside(c, p) for p in home) and c.score < elsewhere:
            continue
        if c in chosen or c.words > budget or _repeats(c, chosen):
            continue
        # Each sentence must make sense where it stands: "This limits ..." needs the
        # sentence saying what limits. The lead brings it along (alone when both do not
        # fit, rather than nothing); a later sentence is left out unless it is quoted.
        antecedents = [o for o in _antecedents(c, candidates) if o not in chosen]
        if chosen and antecedents:
            continue
        if sum(o.words for o in antecedents) + c.words > budget:
            antecedents = []
        for o in [*antecedents, c]:
            chosen.append(o)
            budget -= o.words
    for c in list(chosen):
        for follower in _continuation(c, candidates):
            if follower in chosen or follower.words > budget or _repeats(follower, chosen):
                break
            chosen.append(follower)
            budget -= follower.words
    # The best sentence may have been longer than the budget: the best one quoted leads.
    return _lead_first(max(chosen, key=lambda c: c.score), chosen) if chosen else []


def _lead_first(best: _Candidate, chosen: list[_Candidate]) -> list[_Candidate]:
    """The best sentence first, with the sentences it refers back to and those continuing
    it; then the rest in reading order."""
    first = {c.passage.doc_id: i for i, c in reversed(list(enumerate(chosen)))}
    reading = sorted(chosen, key=lambda c: (first[c.passage.doc_id], c.offset))
    at = reading.index(best)
    start, end = at, at + 1
    while (
        start > 0
        and _adjacent(reading[start - 1], reading[start])
        and _refers_back(reading[start], reading[start - 1])
    ):
        start -= 1
    while (
        end < len(reading)
        and _adjacent(reading[end - 1], reading[end])
        and _continues(reading[end - 1], reading[end])
    ):
        end += 1
    lead = reading[start:end]
    return lead + [c for c in reading if c not in lead]


def _adjacent(a: _Candidate, b: _Candidate) -> bool:
    """Whether `b` follows `a` directly in the same document."""
    gap = b.offset - (a.offset + len(a.sentence.text))
    return a.passage.doc_id == b.passage.doc_id and 0 <= gap <= 2


def _inside(c: _Candidate, passage: Passage) -> bool:
    return (
        c.passage.doc_id == passage.doc_id
        and passage.start <= c.offset
        and c.offset + len(c.sentence.text) <= passage.end
    )


def _repeats(c: _Candidate, chosen: list[_Candidate]) -> bool:
    return any(float(c.vector @ o.vector) > _REDUNDANT for o in chosen)


def _antecedents(c: _Candidate, candidates: list[_Candidate]) -> list[_Candidate]:
    """The sentences right before `c` that it refers back to, nearest last; a list item
    brings the items before it and the line introducing them."""
    return _linked(c, candidates, after=False)[::-1]


def _continuation(c: _Candidate, candidates: list[_Candidate]) -> list[_Candidate]:
    """The sentences right after `c` in its section that go on from it."""
    return _linked(c, candidates, after=True)


def _linked(c: _Candidate, candidates: list[_Candidate], *, after: bool) -> list[_Candidate]:
    """The run of neighbours after (or before, nearest first) `c` that each cannot be read
    apart from the sentence next to it; a list runs longer than a chain of "This ..."."""
    out: list[_Candidate] = []
    current = c
    while (other := _neighbour(current, candidates, after=after)) is not None:
        earlier, later = (current, other) if after else (other, current)
        if not (_continues(earlier, later) if after else _refers_back(later, earlier)):
            break
        limit = _MAX_CONTINUATION if after else _MAX_ANTECEDENTS
        if len(out) >= (_MAX_LIST_ITEMS if _item_of(earlier, later) else limit):
            break
        out.append(other)
        current = other
    return out


def _refers_back(c: _Candidate, before: _Candidate) -> bool:
    """Whether `c` cannot stand without `before`, the sentence right before it: it opens by
    referring back ("This limits ..."), or it is an item of a list `before` belongs to."""
    return bool(_REFERS_BACK.match(c.sentence.text)) or _item_of(before, c)


def _continues(c: _Candidate, follower: _Candidate) -> bool:
    """Whether `follower`, right after `c`, goes on from it ("In addition, ...") or is the
    next item of a list `c` introduces or belongs to."""
    return bool(_CONTINUES.match(follower.sentence.text)) or _item_of(c, follower)


def _item_of(before: _Candidate, c: _Candidate) -> bool:
    """Whether `c` is a list item ("(ii) beliefs ...") after its lead-in ("covering:") or
    after the item before it."""
    text = before.sentence.text.rstrip()
    return bool(_LIST_ITEM.match(c.sentence.text)) and (
        text.endswith(":") or bool(_LIST_ITEM.match(text))
    )


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
