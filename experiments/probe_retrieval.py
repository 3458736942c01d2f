"""Retrieval probes on COVID-QA dev: the experiments behind docs/retrieval.md.

    python -m experiments.probe_retrieval [--split dev] [--cache eval-out/probe-cache] [--limit N]

Exploration, not the benchmark (that is `papertrail eval`): every variant scores all chunks
in memory, so that a dozen variants run in seconds once the vectors are cached. Chunks and
sentences come from PaperTrail's own cleaning, chunking and sentence splitting; a chunk hits
when it overlaps the gold answer by half the shorter of the two, as in `eval.gold`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from eval.datasets import DATASETS_DIR, dev_half
from index.chunking import chunk_document
from index.cleaning import clean
from index.embedding import load_embedder
from index.keyword import index_terms, terms
from index.loaders import RawDocument
from index.sentences import split_sentences
from index.settings import Settings
from rag.rerank import best_sentence_coverage

Matrix = np.ndarray


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--cache", type=Path, default=Path("eval-out/probe-cache"))
    parser.add_argument("--limit", type=int, default=None, help="first N articles (smoke test)")
    args = parser.parse_args()
    data = _prepare(args.split, args.cache, args.limit)
    for name, scores in _variants(data):
        print(_row(name, scores, data["relevant"]))


def _prepare(split: str, cache: Path, limit: int | None = None) -> dict:
    raw = json.loads((DATASETS_DIR / "covid-qa" / "covid-qa-200423.json").read_text())["data"]
    articles = [a["paragraphs"][0] for a in raw]
    dev = dev_half([str(a["document_id"]) for a in articles])
    articles = [a for a in articles if (str(a["document_id"]) in dev) == (split == "dev")]
    settings = Settings()
    chunks, sentences, questions, titles = [], [], [], {}
    for a in articles[:limit]:
        doc_id = str(a["document_id"])
        context = a["context"]
        doc = clean(RawDocument(doc_id, context.split("\n", 1)[0], doc_id, doc_id, [context]))
        titles[doc_id] = doc.title
        chunks += [(doc_id, c.start, c.end, c.text) for c in chunk_document(doc, settings.chunking)]
        sentences += [(doc_id, s.start, s.end, s.text) for s in split_sentences(doc.text)]
        for qa in a["qas"]:
            span = _locate(doc.text, context, qa["answers"][0])
            if span:
                questions.append((qa["question"], doc_id, *span))
    cache.mkdir(parents=True, exist_ok=True)
    vectors = {}
    embedder = load_embedder(settings)
    for name, texts in (
        ("questions", [q[0] for q in questions]),
        ("chunks", [c[3] for c in chunks]),
        ("sentences", [s[3] for s in sentences]),
    ):
        path = cache / f"{split}-{name}-{len(texts)}.npy"
        if not path.exists():
            np.save(path, np.asarray(embedder.get_text_embedding_batch(texts, show_progress=True)))
        vectors[name] = np.load(path)
    relevant = [
        {i for i, c in enumerate(chunks) if c[0] == q[1] and _overlaps(c[1], c[2], q[2], q[3])}
        for q in questions
    ]
    return dict(chunks=chunks, sentences=sentences, questions=questions, titles=titles,
                vectors=vectors, relevant=relevant)  # fmt: skip


def _locate(text: str, raw: str, answer: dict) -> tuple[int, int] | None:
    words = answer["text"].split()
    if not words:
        return None
    hits = list(re.finditer(r"\s*".join(map(re.escape, words)), text))
    if not hits:
        return None
    expected = answer["answer_start"] * len(text) / len(raw)
    best = min(hits, key=lambda m: abs(m.start() - expected))
    return best.start(), best.end()


def _overlaps(s: int, e: int, gs: int, ge: int) -> bool:
    overlap = min(e, ge) - max(s, gs)
    return overlap > 0 and overlap >= 0.5 * min(e - s, ge - gs)


def _bm25(data: dict, tokenize: Callable[[str], list[str]], title: bool) -> Matrix:
    import bm25s

    corpus = [
        tokenize((data["titles"][c[0]] + "\n" if title else "") + c[3]) for c in data["chunks"]
    ]
    model = bm25s.BM25()
    model.index(corpus, show_progress=False)
    out = np.zeros((len(data["questions"]), len(corpus)))
    for i, q in enumerate(data["questions"]):
        query = [t for t in tokenize(q[0]) if t in model.vocab_dict]
        if query:
            out[i] = model.get_scores(query)
    return out


def _max_sim(data: dict) -> Matrix:
    sims = data["vectors"]["questions"] @ data["vectors"]["sentences"].T
    out = np.full((sims.shape[0], len(data["chunks"])), -1.0)
    for j, (doc, s, e, _) in enumerate(data["chunks"]):
        rows = [
            i for i, x in enumerate(data["sentences"]) if x[0] == doc and x[1] >= s and x[2] <= e
        ]
        if rows:
            out[:, j] = sims[:, rows].max(axis=1)
    return out


def _z(m: Matrix) -> Matrix:
    return (m - m.mean(axis=1, keepdims=True)) / (m.std(axis=1, keepdims=True) + 1e-9)


def _dist_fusion(a: Matrix, b: Matrix, w_b: float, n: int = 50) -> Matrix:
    """LlamaIndex's dist_based_score on each side's top n, summed with weights."""
    out = np.full(a.shape, -1e9)
    for i in range(a.shape[0]):
        acc: dict[int, float] = {}
        for m, w in ((a, 1 - w_b), (b, w_b)):
            top = np.argsort(-m[i])[:n]
            s = m[i, top]
            lo, hi = s.mean() - 3 * s.std(), s.mean() + 3 * s.std()
            for j, v in zip(top, (s - lo) / (hi - lo + 1e-9) * w, strict=True):
                acc[int(j)] = acc.get(int(j), 0.0) + float(v)
        for j, v in acc.items():
            out[i, j] = v
    return out


def _variants(data: dict) -> Iterator[tuple[str, Matrix]]:
    plain = _bm25(data, terms, title=False)
    best_bm25 = _bm25(data, index_terms, title=True)
    dense = data["vectors"]["questions"] @ data["vectors"]["chunks"].T
    max_sim = _max_sim(data)
    yield "bm25 (terms)", plain
    yield "bm25 + title + bigrams", best_bm25
    yield "dense chunk vectors", dense
    yield "dense best sentence (max-sim)", max_sim
    yield "z-fusion bm25 + dense chunk, w=0.35", 0.65 * _z(plain) + 0.35 * _z(dense)
    yield "z-fusion bm25 + max-sim, w=0.5", 0.5 * _z(plain) + 0.5 * _z(max_sim)
    for w in (0.3, 0.4, 0.5):
        yield f"dist fusion bm25+title+bigrams, max-sim, w={w}", _dist_fusion(best_bm25, max_sim, w)
    fused = _dist_fusion(best_bm25, max_sim, 0.4)
    for weight in (0.25, 0.5, 0.75, 1.0):
        yield (
            f"same (w=0.4) + best-sentence re-rank of top 30, weight {weight}",
            _rerank(data, fused, weight),
        )


def _rerank(data: dict, fused: Matrix, weight: float, depth: int = 30) -> Matrix:
    """rag.rerank on each question's fused top `depth`; idf as SearchIndex.idf computes it."""
    import math

    bags = [set(terms(data["titles"][c[0]] + "\n" + c[3])) for c in data["chunks"]]
    df: dict[str, int] = {}
    for bag in bags:
        for t in bag:
            df[t] = df.get(t, 0) + 1
    n = len(bags)
    out = fused.copy()
    for i, q in enumerate(data["questions"]):
        weights = {
            t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))
            for t in set(terms(q[0]))
        }
        for j in np.argsort(-fused[i])[:depth]:
            out[i, j] += weight * best_sentence_coverage(weights, data["chunks"][j][3])
    return out


def _row(name: str, scores: Matrix, relevant: list[set[int]]) -> str:
    hits = {1: 0, 3: 0, 5: 0, 10: 0}
    mrr = 0.0
    for i, rel in enumerate(relevant):
        ranked = list(np.argsort(-scores[i])[:10])
        first = next((r for r, j in enumerate(ranked) if j in rel), None)
        for k in hits:
            hits[k] += first is not None and first < k
        mrr += 1 / (first + 1) if first is not None else 0.0
    n = len(relevant)
    cells = " | ".join(f"{hits[k] / n:.3f}" for k in hits)
    return f"| {name} | {cells} | {mrr / n:.3f} |"


if __name__ == "__main__":
    main()
