"""A SystemRun plus gold evidence -> the system's metrics and a per-question record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from eval.gold import is_relevant
from eval.metrics import (
    contains_answer,
    hit_at,
    mean,
    ndcg_at,
    percentile,
    reciprocal_rank,
    strip_citation_marks,
    token_f1,
    token_recall,
)
from eval.models import EvalQuestion, QuestionRun, Span, SystemMetrics, SystemRun
from eval.runner import TOP_K

__all__ = ["CitedQuote", "QuestionScore", "answer_text", "score_system"]


class CitedQuote(BaseModel):
    n: int
    doc_id: str | None
    quote: str
    gold: bool | None = None  # None when the question has no gold evidence
    verbatim: bool


class QuestionScore(BaseModel):
    """One row of the report's per-question table."""

    id: str
    phase: str
    question: str
    answerable: bool
    answer: str
    abstained: bool
    first_hit: int | None = None  # 1-based rank of the first relevant passage
    token_f1: float | None = None
    citations: list[CitedQuote]
    answer_ms: float
    evidence_score: float | None = None


def answer_text(run: QuestionRun) -> str:
    """What answer metrics compare: no citation marks; nothing when the system abstained."""
    return "" if run.abstained else strip_citation_marks(run.answer)


def score_system(
    run: SystemRun,
    *,
    questions: Sequence[EvalQuestion],
    evidence: Mapping[str, list[Span]],
    similarity: Mapping[str, float],
    corpus_chars: int,
) -> tuple[SystemMetrics, list[QuestionScore]]:
    """Metrics over the run's questions; `similarity` maps question id to its cosine score."""
    by_id = {q.id: q for q in questions}
    main = [r for r in run.questions if r.phase == "main"]
    answerable = [r for r in main if by_id[r.id].answerable]
    unanswerable = [r for r in run.questions if not by_id[r.id].answerable or r.phase == "heldout"]
    with_gold = [r for r in answerable if r.id in evidence]
    with_refs = [r for r in answerable if by_id[r.id].answers]
    ranks = _relevance(with_gold, evidence)
    n_relevant = _relevant_counts(run, with_gold, evidence)
    curve = [mean([hit_at(ranks[r.id], k) for r in with_gold]) for k in range(1, TOP_K + 1)]
    cited = [r for r in with_gold if r.citations]
    metrics = SystemMetrics(
        **{f"hit@{k}": curve[k - 1] for k in (1, 3, 5, 10)},
        **{"mrr@10": mean([reciprocal_rank(ranks[r.id], TOP_K) for r in with_gold])},
        **{"ndcg@10": mean([ndcg_at(ranks[r.id], n_relevant[r.id], TOP_K) for r in with_gold])},
        answer_contains=mean(
            [float(contains_answer(answer_text(r), by_id[r.id].answers)) for r in with_refs]
        ),
        lead_contains=mean([float(_leads_with_answer(r, by_id[r.id].answers)) for r in with_refs]),
        token_f1=mean([token_f1(answer_text(r), by_id[r.id].answers) for r in with_refs]),
        token_recall=mean([token_recall(answer_text(r), by_id[r.id].answers) for r in with_refs]),
        semantic_similarity=mean([similarity.get(r.id, 0.0) for r in with_refs]),
        citation_precision=mean([_citation_precision(r, evidence[r.id]) for r in cited]),
        citation_recall=mean([float(_cites_gold(r, evidence[r.id])) for r in with_gold]),
        quote_fidelity=mean([float(c.verbatim) for r in run.questions for c in r.citations]),
        abstention_accuracy=mean([float(r.abstained) for r in unanswerable]),
        false_abstention_rate=mean([float(r.abstained) for r in answerable]),
        latency_p50_ms=percentile([r.answer_ms for r in main], 50),
        latency_p95_ms=percentile([r.answer_ms for r in main], 95),
        retrieval_latency_p50_ms=percentile(_retrieve_ms(main), 50),
        retrieval_latency_p95_ms=percentile(_retrieve_ms(main), 95),
        ingest_chunks_per_s=run.n_chunks / run.ingest_s if run.ingest_s > 0 else None,
        ingest_chars_per_s=corpus_chars / run.ingest_s if run.ingest_s > 0 else None,
        peak_rss_mb=run.peak_rss_mb,
        **_claim_metrics(main),
        ttft_p50_ms=percentile(_first_token_ms(main), 50),
        ttft_p95_ms=percentile(_first_token_ms(main), 95),
        n_chunks=run.n_chunks,
        hit_curve=[c for c in curve if c is not None],
    )
    rows = [_row(r, by_id[r.id], evidence.get(r.id), ranks.get(r.id)) for r in run.questions]
    return metrics, rows


def _relevance(runs: Sequence[QuestionRun], evidence: Mapping[str, list[Span]]) -> dict:
    return {r.id: [is_relevant(p, evidence[r.id]) for p in r.retrieved[:TOP_K]] for r in runs}


def _relevant_counts(
    run: SystemRun, runs: Sequence[QuestionRun], evidence: Mapping[str, list[Span]]
) -> dict[str, int]:
    """How many of the system's chunks hold each question's evidence (nDCG's ideal)."""
    by_doc: dict[str, list[Span]] = defaultdict(list)
    for c in run.chunks:
        by_doc[c.doc_id].append(c)
    return {
        r.id: sum(
            is_relevant(c, evidence[r.id])
            for d in {g.doc_id for g in evidence[r.id]}
            for c in by_doc[d]
        )
        for r in runs
    }


def _cited_passages(run: QuestionRun) -> dict[str, Span | None]:
    """Distinct cited passages by chunk id (None when the citation named no passage)."""
    return {(c.passage.chunk_id if c.passage else f"?{c.n}"): c.passage for c in run.citations}


def _citation_precision(run: QuestionRun, gold: list[Span]) -> float:
    cited = _cited_passages(run).values()
    return sum(p is not None and is_relevant(p, gold) for p in cited) / len(cited)


def _cites_gold(run: QuestionRun, gold: list[Span]) -> bool:
    return any(p is not None and is_relevant(p, gold) for p in _cited_passages(run).values())


def _leads_with_answer(run: QuestionRun, answers: Sequence[str]) -> bool:
    """Whether the answer's first cited sentence holds a reference answer: the reader sees
    the answer first, not an introduction to it."""
    if run.abstained or not run.citations:
        return False
    first = min(run.citations, key=lambda c: c.n)
    return contains_answer(first.quote, answers)


def _claim_metrics(runs: Sequence[QuestionRun]) -> dict[str, float | None]:
    """Faithfulness and ALCE citation precision/recall over the answered questions."""
    checked = [r.claims for r in runs if r.claims is not None and not r.abstained and r.claims]
    claims = [c for cs in checked for c in cs]
    return {
        "faithfulness": mean([float(c.verdict == "supported") for c in claims]),
        "alce_citation_precision": mean([float(p) for c in claims for p in c.precise]),
        "alce_citation_recall": mean(
            [mean([float(c.verdict == "supported") for c in cs]) or 0.0 for cs in checked]
        ),
    }


def _first_token_ms(runs: Sequence[QuestionRun]) -> list[float]:
    return [r.first_token_ms if r.first_token_ms is not None else r.answer_ms for r in runs]


def _retrieve_ms(runs: Sequence[QuestionRun]) -> list[float]:
    return [r.retrieve_ms for r in runs if r.retrieve_ms is not None]


def _row(
    run: QuestionRun, q: EvalQuestion, gold: list[Span] | None, ranks: list[bool] | None
) -> QuestionScore:
    return QuestionScore(
        id=run.id,
        phase=run.phase,
        question=q.question,
        answerable=q.answerable and run.phase == "main",
        answer=run.answer,
        abstained=run.abstained,
        first_hit=next((i + 1 for i, hit in enumerate(ranks or []) if hit), None),
        token_f1=token_f1(answer_text(run), q.answers) if q.answers and q.answerable else None,
        citations=[
            CitedQuote(
                n=c.n,
                doc_id=c.passage.doc_id if c.passage else None,
                quote=c.quote,
                gold=(c.passage is not None and is_relevant(c.passage, gold)) if gold else None,
                verbatim=c.verbatim,
            )
            for c in run.citations
        ],
        answer_ms=run.answer_ms,
        evidence_score=run.evidence_score,
    )
