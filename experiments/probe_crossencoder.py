"""Would a cross-encoder re-ranker trained on COVID-QA dev articles lift rank 1 on unseen ones?

    python -m experiments.probe_crossencoder train --on A --out /work/ft-models/ce-A
    python -m experiments.probe_crossencoder eval --on B --model /work/ft-models/ce-A [--index-all]
    (either with --limit N: the half's first N questions and their articles only, a smoke run)

Cross-fitted on the article halves of experiments.probe_finetune (test data is never read). Training
pairs come from the real pipeline on the training half (only its articles indexed): for each
question, PaperTrail's top 20 chunks (`Engine.retrieve`), labelled by the benchmark's rule
(`eval.gold.is_relevant` against `eval.gold.locate_evidence`); the positive is the best-ranked
relevant chunk, negatives the highest-ranked irrelevant chunks (hard negatives from the existing
retriever); plus `experiments.probe_finetune.build_examples`' gold sentence and its hard-negative
sentences (positive sentences alone teach "short text = relevant"). Model:
AutoModelForSequenceClassification (num_labels=1) initialised from the bundled MiniLM, binary
cross-entropy, plain torch loop (no `datasets`/`accelerate`).

Evaluation: the scored half's top 20 chunks per question from the pipeline, re-scored by the
cross-encoder alone and mixed with the pipeline's score (min-max normalised per question,
weight w on the cross-encoder); hit@1/3/5/10 and MRR@10 against the pipeline's own order.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.gold import is_relevant, locate_evidence
from eval.metrics import hit_at, mean, reciprocal_rank
from eval.models import EvalSet
from experiments.probe_finetune import SEED, build_examples, dev_set, first, halves, subset

DEPTH = 20  # chunks re-ranked per question
WEIGHTS = (0.25, 0.5, 0.75)  # cross-encoder weight in the mix; fixed before looking at B


def pipeline_rankings(eval_set: EvalSet, work: Path) -> list[tuple[str, list, list[bool]]]:
    """(question, top-DEPTH passages, relevance) per question with located gold."""
    from eval.datasets import read_corpus
    from index.settings import Settings
    from rag.engine import Engine

    corpus = read_corpus(eval_set.corpus)
    evidence, _ = locate_evidence(eval_set.questions, corpus)
    engine = Engine.open(Settings(index_dir=work / "index"))
    engine.ingest([Path(p) for p in eval_set.corpus])
    out = []
    for q in eval_set.questions:
        if q.id not in evidence:
            continue
        passages = engine.retrieve(q.question, DEPTH)
        out.append((q.question, passages, [is_relevant(p, evidence[q.id]) for p in passages]))
    return out


# --- training -------------------------------------------------------------------------------


def training_pairs(
    eval_set: EvalSet, work: Path, n_neg: int, *, sentences: bool = True
) -> list[tuple[str, str, float]]:
    pairs: list[tuple[str, str, float]] = []
    for question, passages, rel in pipeline_rankings(eval_set, work):
        if not any(rel):
            continue
        pairs.append((question, passages[rel.index(True)].text, 1.0))
        negs = [p.text for p, r in zip(passages, rel, strict=True) if not r][:n_neg]
        pairs += [(question, t, 0.0) for t in negs]
    if sentences:  # gold sentence and its hard-negative sentences: no length cue in the labels
        for question, sentence, negatives in build_examples(eval_set, n_neg):
            pairs.append((question, sentence, 1.0))
            pairs += [(question, t, 0.0) for t in negatives]
    return pairs


def train(pairs: list, out: Path, *, epochs: int, batch_size: int, lr: float, max_len: int) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from index.embedding import resolve_model_path

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    path = resolve_model_path("all-MiniLM-L6-v2")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    rng = random.Random(SEED)
    plan = []
    for _ in range(epochs):
        order = pairs[:]
        rng.shuffle(order)
        plan += [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    warmup = max(1, len(plan) // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / warmup if s < warmup else max(0.0, (len(plan) - s) / (len(plan) - warmup))
        ),
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    started, total, log = time.perf_counter(), 0.0, []
    for step, batch in enumerate(plan, 1):
        enc = tok(
            [b[0] for b in batch], [b[1] for b in batch], truncation="only_second",
            max_length=max_len, padding=True, return_tensors="pt",
        )  # fmt: skip
        logits = model(**enc).logits.squeeze(-1)
        loss = loss_fn(logits, torch.tensor([b[2] for b in batch]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        total += float(loss.detach())
        if step % 20 == 0 or step == len(plan):
            log.append(round(total / 20, 4))
            print(f"step {step}/{len(plan)} loss {log[-1]} "
                  f"{time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)  # fmt: skip
            total = 0.0
    seconds = time.perf_counter() - started
    model.eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    info = {
        "pairs": len(pairs),
        "positives": sum(p[2] for p in pairs),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "max_length": max_len,
        "steps": len(plan),
        "train_s": round(seconds, 1),
        "loss_log": log,
        "seed": SEED,
        "threads": torch.get_num_threads(),
    }
    (out / "crossencoder.json").write_text(json.dumps(info, indent=2))
    return info


# --- evaluation -----------------------------------------------------------------------------


def _metrics(rels: list[list[bool]]) -> dict[str, float]:
    row = {f"hit@{k}": mean([hit_at(rel, k) for rel in rels]) for k in (1, 3, 5, 10)}
    row["mrr@10"] = mean([reciprocal_rank(rel, 10) for rel in rels])
    return {k: round(v or 0.0, 3) for k, v in row.items()}


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def evaluate(eval_set: EvalSet, model_dir: Path, work: Path, max_len: int) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    ranked = pipeline_rankings(eval_set, work)
    orders: dict[str, list[list[bool]]] = {"pipeline": [], "cross-encoder": []}
    orders.update({f"mix w={w}": [] for w in WEIGHTS})
    latency = []
    paired = {"gained": 0, "lost": 0}
    for question, passages, rel in ranked:
        started = time.perf_counter()
        with torch.inference_mode():
            enc = tok(
                [question] * len(passages), [p.text for p in passages],
                truncation="only_second", max_length=max_len, padding=True, return_tensors="pt",
            )  # fmt: skip
            ce = model(**enc).logits.squeeze(-1).numpy()
        latency.append((time.perf_counter() - started) * 1000)
        base = np.array([p.score for p in passages])
        orders["pipeline"].append(rel)
        orders["cross-encoder"].append([rel[i] for i in np.argsort(-ce, kind="stable")])
        for w in WEIGHTS:
            mix = w * _minmax(ce) + (1 - w) * _minmax(base)
            orders[f"mix w={w}"].append([rel[i] for i in np.argsort(-mix, kind="stable")])
        a, b = rel[0], orders["mix w=0.5"][-1][0]
        paired["gained"] += b and not a
        paired["lost"] += a and not b
    out = {name: _metrics(rels) for name, rels in orders.items()}
    lat = np.array(latency[1:])  # first call warms up
    return {
        "n_questions": len(ranked),
        "n_documents": len(eval_set.corpus),
        "any_relevant_in_top20": round(np.mean([any(r) for _, _, r in ranked]), 3),
        "metrics": out,
        "hit@1_mix0.5_vs_pipeline": paired,
        "rerank_ms_median": round(float(np.median(lat)), 1),
        "rerank_ms_p95": round(float(np.percentile(lat, 95)), 1),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--on", choices=["A", "B"], required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=3e-5)
    t.add_argument("--negatives", type=int, default=3)
    t.add_argument("--max-length", type=int, default=192)
    t.add_argument("--limit", type=int, default=None, help="first N questions of the half")
    e = sub.add_parser("eval")
    e.add_argument("--on", choices=["A", "B"], required=True)
    e.add_argument("--model", type=Path, required=True)
    e.add_argument("--max-length", type=int, default=256)
    e.add_argument("--index-all", action="store_true", help="index all 49 dev articles")
    e.add_argument("--limit", type=int, default=None, help="first N questions of the half")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="papertrail-ce-") as tmp:
        full = dev_set(Path(tmp) / "corpus")
        part = subset(full, halves(full)[args.on], index_all=getattr(args, "index_all", False))
        part = first(part, args.limit)
        print(
            f"half {args.on}: {len(part.questions)} q, {len(part.corpus)} articles", file=sys.stderr
        )
        if args.cmd == "train":
            started = time.perf_counter()
            pairs = training_pairs(part, Path(tmp), args.negatives)
            print(f"{len(pairs)} pairs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            args.out.mkdir(parents=True, exist_ok=True)
            info = train(
                pairs, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                max_len=args.max_length,
            )  # fmt: skip
            info["half"] = args.on
            info["mine_s"] = round(time.perf_counter() - started - info["train_s"], 1)
            (args.out / "crossencoder.json").write_text(json.dumps(info, indent=2))
            print(json.dumps(info))
        else:
            print(json.dumps(evaluate(part, args.model, Path(tmp), args.max_length), indent=2))


if __name__ == "__main__":
    main()
