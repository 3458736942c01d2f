"""Scoring a system's run: which questions count for which metric, on hand-made runs."""

import math

import pytest

from eval.models import CitationRef, EvalQuestion, Gold, PassageRef, QuestionRun, Span, SystemRun
from eval.scoring import score_system

GOLD = {"a1": [Span(doc_id="d", start=100, end=120)], "a2": [Span(doc_id="d", start=500, end=520)]}
HIT = PassageRef(chunk_id="c1", doc_id="d", start=0, end=200)  # holds a1's evidence
HIT_TOO = PassageRef(chunk_id="c1b", doc_id="d", start=90, end=290)  # overlapping chunk, also a1
MISS = PassageRef(chunk_id="c2", doc_id="d", start=1000, end=1200)
A2 = PassageRef(chunk_id="c3", doc_id="d", start=400, end=600)

QUESTIONS = [
    EvalQuestion(id="a1", question="q1?", answers=["bone marrow"], gold=Gold(doc_id="d")),
    EvalQuestion(id="a2", question="q2?", answers=["cord blood"], gold=Gold(doc_id="d")),
    EvalQuestion(id="u1", question="q3?", answerable=False),
]


def _cite(n: int, passage: PassageRef | None, verbatim: bool = True) -> CitationRef:
    return CitationRef(n=n, passage=passage, quote="quote", verbatim=verbatim)


def _run(questions: list[QuestionRun], chunks: list[PassageRef] | None = None) -> SystemRun:
    return SystemRun(
        system="s",
        n_chunks=len(chunks or []),
        ingest_s=2.0,
        chunks=chunks if chunks is not None else [HIT, HIT_TOO, MISS, A2],
        questions=questions,
        peak_rss_mb=100.0,
    )


def _q(qid: str, **kw: object) -> QuestionRun:
    defaults: dict = {"answer": "", "abstained": False, "answer_ms": 10.0, "retrieve_ms": 1.0}
    return QuestionRun(id=qid, **{**defaults, **kw})


def _score(run: SystemRun, similarity: dict | None = None) -> dict:
    metrics, _ = score_system(
        run, questions=QUESTIONS, evidence=GOLD, similarity=similarity or {}, corpus_chars=1000
    )
    return metrics.model_dump(by_alias=True)


def test_retrieval_metrics_average_over_questions_with_gold() -> None:
    run = _run(
        [
            _q("a1", retrieved=[MISS, HIT, HIT_TOO], answer="bone marrow [1]"),
            _q("a2", retrieved=[], answer="no idea"),  # nothing retrieved
            _q("u1", retrieved=[HIT], answer="x"),  # unanswerable: not in retrieval metrics
        ]
    )
    m = _score(run)
    assert m["hit@1"] == 0.0 and m["hit@3"] == 0.5 and m["hit@10"] == 0.5
    assert m["mrr@10"] == pytest.approx((0.5 + 0.0) / 2)
    # a1: relevant at ranks 2 and 3, two relevant chunks exist; a2: nothing retrieved
    ndcg_a1 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx(ndcg_a1 / 2)
    assert m["hit_curve"][0] == 0.0 and len(m["hit_curve"]) == 10


def test_answers_without_citations_count_against_recall_but_not_precision() -> None:
    run = _run(
        [
            _q("a1", answer="x", citations=[_cite(1, HIT), _cite(2, MISS), _cite(3, HIT)]),
            _q("a2", answer="y", citations=[]),
        ]
    )
    m = _score(run)
    assert m["citation_precision"] == pytest.approx(1 / 2)  # distinct passages: HIT, MISS
    assert m["citation_recall"] == pytest.approx(1 / 2)


def test_no_citations_at_all_leaves_precision_undefined() -> None:
    m = _score(_run([_q("a1", answer="x"), _q("a2", answer="y")]))
    assert m["citation_precision"] is None
    assert m["citation_recall"] == 0.0
    assert m["quote_fidelity"] is None


def test_a_citation_without_a_passage_is_neither_gold_nor_verbatim() -> None:
    run = _run([_q("a1", citations=[_cite(1, None, verbatim=False), _cite(2, HIT)])])
    m = _score(run)
    assert m["citation_precision"] == 0.5
    assert m["quote_fidelity"] == 0.5


def test_abstentions_are_scored_on_both_sides() -> None:
    run = _run(
        [
            _q("a1", answer="The documents do not say.", abstained=True),
            _q("a2", answer="cord blood [1]", citations=[_cite(1, A2)]),
            _q("u1", answer="Nothing here.", abstained=True),
            _q("a2", phase="heldout", answer="cord blood", abstained=False, retrieve_ms=None),
        ]
    )
    m = _score(run, similarity={"a2": 0.9})
    assert m["false_abstention_rate"] == 0.5  # a1 of a1, a2
    assert m["abstention_accuracy"] == 0.5  # u1 yes, held-out a2 no
    assert m["answer_contains"] == 0.5  # an abstention contains nothing
    assert m["semantic_similarity"] == pytest.approx(0.45)  # a1 abstained: scores 0


def test_sets_without_unanswerable_questions_have_no_abstention_accuracy() -> None:
    run = _run([_q("a1", answer="bone marrow"), _q("a2", answer="cord blood")])
    m = _score(run)
    assert m["abstention_accuracy"] is None
    assert m["false_abstention_rate"] == 0.0
    assert m["answer_contains"] == 1.0 and m["token_f1"] == 1.0


def test_costs_come_from_timings_and_counts() -> None:
    run = _run(
        [_q("a1", answer_ms=10.0, retrieve_ms=1.0), _q("a2", answer_ms=30.0, retrieve_ms=3.0)],
        chunks=[HIT, MISS, A2, HIT_TOO],
    )
    m = _score(run)
    assert m["latency_p50_ms"] == 20.0 and m["retrieval_latency_p50_ms"] == 2.0
    assert m["latency_p95_ms"] == pytest.approx(29.0)
    assert m["ingest_chunks_per_s"] == 2.0 and m["ingest_chars_per_s"] == 500.0
    assert m["peak_rss_mb"] == 100.0


def test_rows_mark_each_citation_against_the_gold() -> None:
    run = _run([_q("a1", retrieved=[MISS, HIT], citations=[_cite(1, HIT), _cite(2, MISS)])])
    _, rows = score_system(run, questions=QUESTIONS, evidence=GOLD, similarity={}, corpus_chars=1)
    (row,) = rows
    assert row.first_hit == 2
    assert [c.gold for c in row.citations] == [True, False]


def test_lead_contains_counts_only_answers_whose_first_citation_holds_the_fact() -> None:
    first = CitationRef(n=1, passage=HIT, quote="Sources are bone marrow and fat.", verbatim=True)
    later = CitationRef(n=2, passage=A2, quote="Also cord blood.", verbatim=True)
    intro = CitationRef(n=1, passage=HIT, quote="MSCs are cells.", verbatim=True)
    run = _run(
        [
            _q("a1", answer="Sources are bone marrow and fat. [1]", citations=[first]),
            _q("a2", answer="MSCs are cells. [1] Also cord blood. [2]", citations=[later, intro]),
        ]
    )
    m = _score(run)
    assert m["lead_contains"] == 0.5  # a2 holds the fact only in its second sentence
