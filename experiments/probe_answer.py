"""Answer probes on the dev splits: the evidence behind the abstention and citation rules.

    python -m experiments.probe_answer [--cache eval-out/probe-answer]  # abstention (support)
    python -m experiments.probe_answer --selection                      # citation focus variants
    python -m experiments.probe_answer --limit 5 --cache /tmp/probe     # a smoke run

Exploration, not the benchmark (that is `papertrail eval`). Indexes PubMedQA (all
abstracts), COVID-QA dev and the seed article once into `--cache`. For every dev question
it records what the support score is made of, twice for PubMedQA: with the question's own
abstract retrievable (answerable) and with it filtered out of the results (held out). The
filter stands in for removing the abstract; a term only that abstract held is then
treated as unseen, as it would be after removal. It prints, for each support variant,
the held-out abstention against the false abstention on answerable questions.
"""

from __future__ import annotations

import argparse
import json
from functools import cache
from pathlib import Path

import numpy as np

from eval.datasets import load_eval_set, read_corpus
from eval.gold import is_relevant, locate_evidence
from eval.metrics import contains_answer, strip_citation_marks
from eval.models import EvalQuestion, Span
from index.keyword import question_weights, terms
from index.settings import Settings
from rag.answer import _QUANTITY_QUESTION, _candidates, support_of
from rag.engine import Engine

# The headline question of the bundled article must stay answered; it says "barriers"
# where the article says "challenging", so its support is checked with every variant.
HEADLINE = "What are the barriers to MSC standardisation?"
SUPPORT_VARIANTS = [  # (cosine weight, unseen-term weight, threshold)
    (0.5, 1.0, 0.55),
    (0.5, 1.0, 0.45),
    (0.5, 0.0, 0.56),
    (0.5, 0.25, 0.54),
    (0.5, 0.25, 0.56),
    (0.5, 0.25, 0.58),
    (0.4, 0.25, 0.56),
    (0.6, 0.25, 0.58),
]
SELECTION_VARIANTS = [0.7, 0.8, 0.85, 0.9, 1.01]  # share of the best needed elsewhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("eval-out/probe-answer"))
    parser.add_argument("--analyse-only", action="store_true", help="reuse features.jsonl")
    parser.add_argument("--selection", action="store_true", help="compare citation focus")
    parser.add_argument("--limit", type=int, default=None, help="first N questions per set")
    args = parser.parse_args()
    if args.selection:
        _selection(args.cache, args.limit)
        return
    out = args.cache / "features.jsonl"
    if not args.analyse_only:
        sets = ("pubmedqa", "covid-qa", "seed")
        rows = [r for d in sets for r in _features(d, args.cache, args.limit)]
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _analyse([json.loads(line) for line in out.read_text().splitlines()])


def _engine(
    dataset: str, cache: Path, limit: int | None
) -> tuple[Engine, list[EvalQuestion], list[str]]:
    work = cache / dataset
    split = "all" if dataset == "seed" else "dev"
    eval_set = load_eval_set(dataset, work_dir=work / "files", split=split, limit=limit)
    engine = Engine.open(Settings(index_dir=work / "index", collection=f"probe-{dataset}"))
    engine.ingest(eval_set.corpus, show_progress=True)
    return engine, eval_set.questions, eval_set.corpus


def _features(dataset: str, cache: Path, limit: int | None) -> list[dict]:
    engine, questions, _ = _engine(dataset, cache, limit)
    held = (False, True) if dataset == "pubmedqa" else (False,)
    rows = [_row(engine, q, dataset, heldout=h) for q in questions for h in held]
    if dataset == "seed":
        headline = EvalQuestion(id="headline", question=HEADLINE)
        rows.append(_row(engine, headline, "headline", heldout=False))
    return rows


def _row(engine: Engine, q: EvalQuestion, dataset: str, *, heldout: bool) -> dict:
    """The parts of the support score, so that variants can be scored offline."""
    vector = np.asarray(engine.embedder.get_query_embedding(q.question))
    k = engine.settings.answer.passages
    passages = engine.retrieve(q.question, k + 10)
    own = q.gold.doc_id if q.gold else None
    passages = [p for p in passages if not heldout or p.doc_id != own][:k]
    candidates = _candidates(passages, engine.search.sentences)
    weights = question_weights(q.question, engine.search.idf)
    held_by = _term_documents(engine)
    docs: dict[str, set[str]] = {}
    for p in passages:
        docs.setdefault(p.doc_id, set()).update(terms(p.title + "\n" + p.text))
    return {
        "dataset": dataset,
        "id": q.id,
        "answerable": q.answerable and not heldout,
        "quantity": bool(_QUANTITY_QUESTION.search(q.question)),
        "cosine": max((float(c.vector @ vector) for c in candidates), default=0.0),
        "weights": weights,
        # unseen: no document but (when held out) the question's own has the term
        "unseen": [t for t in weights if not held_by.get(t, set()) - {own if heldout else None}],
        "doc_terms": [sorted(ts & set(weights)) for ts in docs.values()],
    }


@cache
def _term_documents(engine: Engine) -> dict[str, set[str]]:
    """The documents holding each term, once per engine."""
    out: dict[str, set[str]] = {}
    _, texts, metas = engine.store.all_chunks()
    for text, meta in zip(texts, metas, strict=True):
        for t in set(terms(meta.get("title", "") + "\n" + text)):
            out.setdefault(t, set()).add(str(meta["doc_id"]))
    return out


def _support(row: dict, cosine_weight: float, unseen_weight: float) -> float:
    """rag.answer's support on a recorded row, with other weights."""
    return support_of(
        row["cosine"],
        [set(ts) for ts in row["doc_terms"]],
        row["weights"],
        set(row["unseen"]),
        cosine_weight=cosine_weight,
        discount=unseen_weight,
    )


def _analyse(rows: list[dict]) -> None:
    answerable = {
        d: [r for r in rows if r["answerable"] and r["dataset"] == d]
        for d in ("pubmedqa", "covid-qa", "seed")
    }
    heldout = [r for r in rows if r["dataset"] == "pubmedqa" and not r["answerable"]]
    # the quantity rule already abstains on the seed set's "how many / what dose" questions
    seed_no = [r for r in rows if r["dataset"] == "seed" and not r["answerable"]]
    headline = next(r for r in rows if r["dataset"] == "headline")
    print(
        "cosine w | unseen w | threshold | held-out abstention | false abstention "
        "pubmedqa / covid-qa / seed | seed unanswerable abstained | headline support"
    )
    for cw, uw, t in SUPPORT_VARIANTS:

        def below(rs: list[dict], cw: float = cw, uw: float = uw, t: float = t) -> float:
            return sum(_support(r, cw, uw) < t for r in rs) / max(len(rs), 1)

        seed_abstained = sum(_support(r, cw, uw) < t or r["quantity"] for r in seed_no)
        false = " / ".join(f"{below(rs):.3f}" for rs in answerable.values())
        print(
            f"{cw} | {uw} | {t} | {below(heldout):.3f} | {false} | "
            f"{seed_abstained}/{len(seed_no)} | {_support(headline, cw, uw):.3f}"
        )


def _selection(cache: Path, limit: int | None) -> None:
    """answer_contains and citation precision on COVID-QA dev as citing focuses."""
    import rag.answer as answer

    engine, questions, corpus = _engine("covid-qa", cache, limit)
    evidence, _ = locate_evidence(questions, read_corpus(corpus))
    questions = [q for q in questions if q.id in evidence]
    for other in SELECTION_VARIANTS:
        answer._OTHER_PASSAGE_RATIO = other
        contains, precision, words = [], [], []
        for q in questions:
            a = engine.ask(q.question)
            text = "" if a.abstained else strip_citation_marks(a.answer)
            words.append(len(text.split()))
            contains.append(contains_answer(text, q.answers))
            spans = {
                p.chunk_id: Span(doc_id=p.doc_id, start=p.start, end=p.end) for p in a.passages
            }
            cited = {c.chunk_id: spans[c.chunk_id] for c in a.citations}
            if cited:
                hits = sum(is_relevant(s, evidence[q.id]) for s in cited.values())
                precision.append(hits / len(cited))
        n, cited_n = len(questions), max(len(precision), 1)
        print(
            f"other passages need {other} of the best: answer_contains {sum(contains) / n:.3f} "
            f"citation precision {sum(precision) / cited_n:.3f} words {sum(words) / n:.0f}"
        )


if __name__ == "__main__":
    main()
