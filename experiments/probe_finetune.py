r"""Does fine-tuning MiniLM on COVID-QA dev articles help retrieval on unseen articles?

    python -m experiments.probe_finetune train --on A --out /work/ft-models/ft-A
    python -m experiments.probe_finetune eval --on B [--model /work/ft-models/ft-A] \
        --out eval-out/ft-B-ftA
    (either with --limit N: the half's first N questions and their articles only, a smoke run)

An honest proxy for the test split: the 49 dev articles are cut in two halves by article
(SHA-256 of "finetune-half:" + document id; first half A). A model is trained on one half's
questions only, and the full PaperTrail pipeline is evaluated on the other half's questions,
with only that half's articles indexed (as the test half is: unseen articles only). The stock
model runs in the same conditions. Test data is never read.

Training: bi-encoder, sentence-transformers' MultipleNegativesRankingLoss (in-batch
negatives plus hard negatives), question -> the sentence of the cleaned document holding most
of the gold answer (located by eval.gold, sentences from index.sentences: the unit that the
pipeline's max-sim and answerer score). Hard negatives: the stock model's and BM25's
top-ranked sentences of the training half that neither overlap the gold span nor contain
the answer text. A plain torch loop (no `datasets`/`accelerate` needed); everything seeded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.datasets import load_eval_set
from eval.gold import locate_evidence
from eval.models import EvalSet
from index.keyword import index_terms
from index.sentences import split_sentences

SEED = 13
STOCK = "all-MiniLM-L6-v2"


def halves(eval_set: EvalSet) -> dict[str, set[str]]:
    """Dev articles (doc ids) cut in two, deterministically."""
    ids = sorted({q.gold.doc_id for q in eval_set.questions if q.gold and q.gold.doc_id})
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"finetune-half:{i}".encode()).hexdigest())
    return {"A": set(ranked[: len(ranked) // 2]), "B": set(ranked[len(ranked) // 2 :])}


def subset(eval_set: EvalSet, docs: set[str], *, index_all: bool = False) -> EvalSet:
    """Only the questions on `docs`; only those articles indexed unless `index_all`."""
    return eval_set.model_copy(
        update={
            "questions": [q for q in eval_set.questions if q.gold and q.gold.doc_id in docs],
            "corpus": [p for p in eval_set.corpus if index_all or Path(p).name in docs],
        }
    )


def first(eval_set: EvalSet, limit: int | None) -> EvalSet:
    """The first `limit` questions and only their articles (all of it when None)."""
    if limit is None:
        return eval_set
    questions = eval_set.questions[:limit]
    docs = {q.gold.doc_id for q in questions if q.gold}
    return eval_set.model_copy(
        update={
            "questions": questions,
            "corpus": [p for p in eval_set.corpus if Path(p).name in docs],
        }
    )


def dev_set(work: Path) -> EvalSet:
    return load_eval_set("covid-qa", work_dir=work, split="dev")


# --- training data ------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def build_examples(eval_set: EvalSet, n_neg: int = 3) -> list[tuple[str, str, list[str]]]:
    """(question, positive sentence, hard negatives) for each located question."""
    from eval.datasets import read_corpus

    corpus = read_corpus(eval_set.corpus)
    evidence, _ = locate_evidence(eval_set.questions, corpus)
    docs = {f.document.doc_id: f.document for f in corpus}
    sents = [(d, s) for d, doc in docs.items() for s in split_sentences(doc.text)]
    texts = [s.text for _, s in sents]
    by_id = {q.id: q for q in eval_set.questions}
    qids = [q for q in by_id if q in evidence]

    # Stock dense ranking (the pipeline's own int8 embedder) and BM25 over sentences.
    from index.embedding import load_embedder
    from index.settings import Settings

    embedder = load_embedder(Settings())
    svec = np.asarray(embedder.get_text_embedding_batch(texts))
    qvec = np.asarray(embedder.get_text_embedding_batch([by_id[q].question for q in qids]))
    dense = qvec @ svec.T
    import bm25s

    bm = bm25s.BM25()
    bm.index([index_terms(t) or ["_"] for t in texts], show_progress=False)

    rng = random.Random(SEED)
    out = []
    for i, qid in enumerate(qids):
        q = by_id[qid]
        spans = evidence[qid]
        gold = {
            j
            for j, (d, s) in enumerate(sents)
            if any(g.doc_id == d and min(s.end, g.end) > max(s.start, g.start) for g in spans)
        }
        if not gold:
            continue
        g0 = spans[0]
        pos = max(
            gold,
            key=lambda j: min(sents[j][1].end, g0.end) - max(sents[j][1].start, g0.start),
        )
        answers = [_norm(a) for a in q.answers if len(a) >= 3]

        def ok(j: int, gold: set[int] = gold, answers: list[str] = answers) -> bool:
            t = _norm(texts[j])
            return j not in gold and not any(a in t for a in answers)

        query = [t for t in index_terms(q.question) if t in bm.vocab_dict]
        lexical = bm.get_scores(query) if query else np.zeros(len(texts))
        dense_top = [j for j in np.argsort(-dense[i])[:30] if ok(j)][:10]
        bm_top = [j for j in np.argsort(-lexical)[:30] if ok(j)][:10]
        negs: list[int] = []
        # two from the dense top 10, one from BM25's top 10, sampled (seeded), no repeats
        for pool, k in ((dense_top, n_neg - 1), (bm_top, 1)):
            pool = [j for j in pool if j not in negs]
            negs += rng.sample(pool, min(k, len(pool)))
        while len(negs) < n_neg:  # pad from the rest of the dense ranking
            j = next(j for j in np.argsort(-dense[i]) if ok(j) and j not in negs)
            negs.append(j)
        out.append((q.question, texts[pos], [texts[j] for j in negs]))
    return out


# --- training -------------------------------------------------------------------------------


def _batches(examples: list, size: int, rng: random.Random) -> list[list]:
    """Shuffled batches with no positive text twice in a batch (no false in-batch negatives)."""
    pending = examples[:]
    rng.shuffle(pending)
    batches: list[list] = []
    while pending:
        batch, seen, rest = [], set(), []
        for ex in pending:
            key = _norm(ex[1])
            if len(batch) < size and key not in seen and not (set(map(_norm, ex[2])) & seen):
                batch.append(ex)
                seen.add(key)
            else:
                rest.append(ex)
        batches.append(batch)
        pending = rest
    return batches


def train(examples: list, out: Path, *, epochs: int, batch_size: int, lr: float) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    from index.embedding import resolve_model_path

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    model = SentenceTransformer(resolve_model_path(STOCK), device="cpu")
    full_len = model.max_seq_length
    model.max_seq_length = 128  # training speed; sentences rarely exceed it
    loss_fn = MultipleNegativesRankingLoss(model)
    rng = random.Random(SEED)
    plan = [_batches(examples, batch_size, rng) for _ in range(epochs)]
    steps = sum(len(p) for p in plan)
    warmup = max(1, steps // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (steps - s) / (steps - warmup))
    )
    model.train()
    started, step, log = time.perf_counter(), 0, []
    for epoch, batches in enumerate(plan):
        total = 0.0
        for batch in batches:
            columns = [[ex[0] for ex in batch], [ex[1] for ex in batch]]
            columns += [[ex[2][k] for ex in batch] for k in range(len(batch[0][2]))]
            features = [model.tokenize(c) for c in columns]
            loss = loss_fn(features, None)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            total += float(loss.detach())
        log.append(round(total / len(batches), 4))
        print(f"epoch {epoch + 1}: mean loss {log[-1]}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    model.eval()
    model.max_seq_length = full_len
    model.save(str(out))
    # The tokenizer config keeps the training-time max_length (128); the pipeline must
    # truncate at the model's 256 like the stock model, so drop it.
    tok_config = out / "tokenizer_config.json"
    config = json.loads(tok_config.read_text())
    config.pop("max_length", None)
    tok_config.write_text(json.dumps(config, indent=2))
    info = {
        "examples": len(examples),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "steps": steps,
        "train_s": round(seconds, 1),
        "loss_per_epoch": log,
        "seed": SEED,
        "threads": torch.get_num_threads(),
    }
    (out / "finetune.json").write_text(json.dumps(info, indent=2))
    return info


# --- evaluation -----------------------------------------------------------------------------

KEYS = ["hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "answer_contains", "citation_precision",
        "citation_recall", "false_abstention_rate", "abstention_accuracy"]  # fmt: skip


def run_eval(eval_set: EvalSet, model: str | None, backend: str, out: Path) -> dict:
    from eval.evaluate import evaluate
    from eval.report import write_outputs
    from index.settings import Settings

    settings = Settings(embed_model=model or STOCK, embed_backend=backend)
    with tempfile.TemporaryDirectory(prefix="papertrail-ft-") as tmp:
        evaluation = evaluate(eval_set, settings, systems=["papertrail"], work_dir=Path(tmp))
    write_outputs(evaluation, out)
    m = evaluation.results.systems["papertrail"].model_dump(by_alias=True)
    row = {k: m.get(k) for k in KEYS}
    row["n_questions"] = len(eval_set.questions)
    row["n_documents"] = len(eval_set.corpus)
    print(json.dumps({"model": model or STOCK, "backend": backend, **row}), flush=True)
    return row


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--on", choices=["A", "B", "AB"], required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=3e-5)
    t.add_argument("--negatives", type=int, default=3)
    t.add_argument("--limit", type=int, default=None, help="first N questions of the half")
    e = sub.add_parser("eval")
    e.add_argument("--on", choices=["A", "B", "AB"], required=True)
    e.add_argument("--model", default=None)
    e.add_argument("--backend", default="onnx-int8")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument(
        "--index-all", action="store_true", help="index all 49 dev articles, score one half"
    )
    e.add_argument("--limit", type=int, default=None, help="first N questions of the half")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="papertrail-ft-corpus-") as tmp:
        full = dev_set(Path(tmp))
        parts = halves(full)
        parts["AB"] = parts["A"] | parts["B"]
        part = subset(full, parts[args.on], index_all=getattr(args, "index_all", False))
        part = first(part, args.limit)
        print(
            f"half {args.on}: {len(part.questions)} questions, {len(part.corpus)} articles",
            file=sys.stderr,
        )
        if args.cmd == "train":
            started = time.perf_counter()
            examples = build_examples(part, args.negatives)
            build_s = time.perf_counter() - started
            print(f"{len(examples)} examples in {build_s:.0f} s", file=sys.stderr, flush=True)
            args.out.mkdir(parents=True, exist_ok=True)
            with (args.out / "examples.jsonl").open("w") as f:
                for ex in examples:
                    f.write(json.dumps(ex) + "\n")
            info = train(
                examples, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr
            )
            info["half"] = args.on
            info["articles"] = sorted(parts[args.on])
            info["build_examples_s"] = round(build_s, 1)
            (args.out / "finetune.json").write_text(json.dumps(info, indent=2))
            print(json.dumps(info))
        else:
            run_eval(part, args.model, args.backend, args.out)


if __name__ == "__main__":
    main()
