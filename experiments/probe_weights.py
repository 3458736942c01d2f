"""Fusion and re-rank weights on both dev sets at once: the grid behind docs/retrieval.md.

    python -m experiments.probe_weights [--cache eval-out/probe-weights] [--limit N] [KW,RW ...]

Exploration, not the benchmark (that is `papertrail eval`). Indexes COVID-QA dev and all
PubMedQA abstracts once into `--cache` (a few minutes), then retrieves through the real
engine with each (keyword_weight, rerank_weight)
pair: COVID-QA hit@1, hit@5 and MRR@10 by gold-span overlap as in `eval.gold`, and PubMedQA
dev own-abstract hit@1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eval.datasets import load_eval_set, read_corpus
from eval.gold import is_relevant, locate_evidence
from eval.metrics import hit_at, mean, reciprocal_rank
from eval.models import EvalQuestion, EvalSet, Span
from index.settings import RetrievalSettings, Settings
from rag.engine import Engine

GRID = [(0.6, 0.5), (0.5, 0.5), (0.55, 0.5), (0.55, 0.6), (0.55, 0.75), (0.6, 0.75)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("eval-out/probe-weights"))
    parser.add_argument("--limit", type=int, default=None, help="first N questions (smoke test)")
    parser.add_argument("pairs", nargs="*", help="KW,RW pairs (default: the documented grid)")
    args = parser.parse_args()
    grid = [tuple(float(x) for x in p.split(",")) for p in args.pairs] or GRID
    covid, covid_set = _engine("covid-qa", args.cache, args.limit)
    evidence, _ = locate_evidence(covid_set.questions, read_corpus(covid_set.corpus))
    covid_qs = [q for q in covid_set.questions if q.id in evidence]
    pubmed, pubmed_set = _engine("pubmedqa", args.cache, args.limit)
    print("keyword_weight rerank_weight | COVID-QA hit@1 hit@5 MRR@10 | PubMedQA hit@1")
    for kw, rw in grid:
        retrieval = RetrievalSettings(keyword_weight=kw, rerank_weight=rw)
        ranks = []
        for q in covid_qs:
            passages = covid.retrieve(q.question, k=10, retrieval=retrieval)
            spans = [Span(doc_id=p.doc_id, start=p.start, end=p.end) for p in passages]
            ranks.append([is_relevant(s, evidence[q.id]) for s in spans])
        pubmed_hits = [
            _first_doc(pubmed, q, retrieval) == (q.gold.doc_id if q.gold else None)
            for q in pubmed_set.questions
        ]
        print(
            f"{kw:.2f} {rw:.2f} | {mean([hit_at(r, 1) for r in ranks]):.4f} "
            f"{mean([hit_at(r, 5) for r in ranks]):.4f} "
            f"{mean([reciprocal_rank(r) for r in ranks]):.4f} | "
            f"{mean([float(h) for h in pubmed_hits]):.3f}",
            flush=True,
        )


def _first_doc(engine: Engine, q: EvalQuestion, retrieval: RetrievalSettings) -> str | None:
    passages = engine.retrieve(q.question, k=1, retrieval=retrieval)
    return passages[0].doc_id if passages else None


def _engine(dataset: str, cache: Path, limit: int | None) -> tuple[Engine, EvalSet]:
    work = cache / dataset
    eval_set = load_eval_set(dataset, work_dir=work / "files", split="dev", limit=limit)
    engine = Engine.open(Settings(index_dir=work / "index", collection=f"weights-{dataset}"))
    engine.ingest(eval_set.corpus, show_progress=True)
    return engine, eval_set


if __name__ == "__main__":
    main()
