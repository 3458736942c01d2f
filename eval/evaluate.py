"""One evaluation: locate the gold evidence, run every system, score them side by side."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from eval.baselines import SYSTEMS
from eval.datasets import read_corpus
from eval.gold import locate_evidence
from eval.metrics import cosine
from eval.models import EvalSet, Results, SystemRun
from eval.runner import SystemJob, run_systems
from eval.scoring import QuestionScore, answer_text, score_system
from index.embedding import load_embedder
from rag import PaperTrailError, Settings

__all__ = ["Evaluation", "embed_texts", "evaluate"]


class Evaluation(BaseModel):
    results: Results
    rows: dict[str, list[QuestionScore]]  # system -> per-question records
    latencies: dict[str, list[float]]  # system -> full-answer latencies (ms), for the plot


def evaluate(
    eval_set: EvalSet,
    settings: Settings,
    *,
    systems: Sequence[str],
    work_dir: Path,
    isolate: bool = True,
) -> Evaluation:
    """Run `systems` on `eval_set`, each on its own fresh index under `work_dir`."""
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        raise PaperTrailError(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    corpus = read_corpus(eval_set.corpus)
    evidence, unresolved = locate_evidence(eval_set.questions, corpus)
    if unresolved:
        print(f"warning: gold evidence not found for {len(unresolved)} questions", file=sys.stderr)
    heldout = _heldout_documents(eval_set)
    jobs = [
        SystemJob(
            system=name,
            settings=settings.model_copy(update={"index_dir": work_dir / "index" / name}),
            corpus=eval_set.corpus,
            questions=eval_set.questions,
            heldout=heldout,
        )
        for name in systems
    ]
    runs = run_systems(jobs, isolate=isolate)
    similarity = _similarities(settings, eval_set, runs)
    corpus_chars = sum(len(f.raw) for f in corpus)
    scored = {
        run.system: score_system(
            run,
            questions=eval_set.questions,
            evidence=evidence,
            similarity=similarity[run.system],
            corpus_chars=corpus_chars,
        )
        for run in runs
    }
    results = Results(
        dataset=eval_set.name,
        split=eval_set.split,
        n_questions=len(eval_set.questions),
        n_unanswerable=sum(not q.answerable for q in eval_set.questions) + len(heldout),
        n_chunks=runs[0].n_chunks,
        n_documents=len(corpus),
        corpus_chars=corpus_chars,
        unresolved_gold=unresolved,
        systems={name: metrics for name, (metrics, _) in scored.items()},
    )
    return Evaluation(
        results=results,
        rows={name: rows for name, (_, rows) in scored.items()},
        latencies={r.system: [q.answer_ms for q in r.questions if q.phase == "main"] for r in runs},
    )


def _heldout_documents(eval_set: EvalSet) -> dict[str, str]:
    ids = set(eval_set.heldout)
    return {
        q.id: q.gold.doc_id
        for q in eval_set.questions
        if q.id in ids and q.gold is not None and q.gold.doc_id is not None
    }


def _similarities(
    settings: Settings, eval_set: EvalSet, runs: Sequence[SystemRun]
) -> dict[str, dict[str, float]]:
    """Per system, question id -> best cosine of the answer to a reference answer."""
    refs = {q.id: q.answers for q in eval_set.questions if q.answers and q.answerable}
    unique = sorted({a for answers in refs.values() for a in answers})
    ref_vectors = dict(zip(unique, embed_texts(settings, unique), strict=True))
    out: dict[str, dict[str, float]] = {}
    for run in runs:
        texts = {r.id: answer_text(r) for r in run.questions if r.phase == "main" and r.id in refs}
        texts = {k: v for k, v in texts.items() if v.strip()}  # no answer scores 0
        vectors = dict(zip(texts, embed_texts(settings, list(texts.values())), strict=True))
        out[run.system] = {
            qid: max(cosine(vec, ref_vectors[a]) for a in refs[qid]) for qid, vec in vectors.items()
        }
    return out


def embed_texts(settings: Settings, texts: Sequence[str]) -> list[list[float]]:
    """Vectors from the configured embedder, e.g. to score semantic similarity."""
    if not texts:
        return []
    return load_embedder(settings).get_text_embedding_batch(list(texts))
