"""Could a reader fine-tuned from MiniLM tell a sentence that answers from a near miss?

    python -m experiments.probe_reader [--epochs 5] [--lr 6e-5] [--limit N]
    python -m experiments.probe_reader --trust eval-out/trust-answered/trust.json

The second form trains on every dev article and adds the reader's score of each trust
question against its quoted sentences to the support features, then prints the ceiling of
experiments.probe_ceiling with and without it. Run eval.trust for it with
PAPERTRAIL_ANSWER__MIN_EVIDENCE=0, so that every question has quotes to read.

The abstention misses left on the trust set (issue #14) are near misses: the question's
words are in the text but not what it asks ("What plasma dose healed venous leg ulcers
completely?"). This probe asks whether a cross-encoder trained here could read that. COVID-QA
dev only (test is never read), articles split by parity (train on even, score odd). Pairs:

- `pos`: a question with the sentence holding its answer;
- `swap`: the question with its rarest word that the sentence holds (Zipf < 4.5) replaced by
  a word of the same rarity from another question that the article lacks ("Hubei" ->
  "Italy"), against the same sentence: a near miss about something the text lacks;
- `other`: the question with another sentence of the article, without the answer.

Model: AutoModelForSequenceClassification (num_labels=1) from the bundled MiniLM, binary
cross-entropy, plain torch loop. Reports ROC AUC on the held-out articles for the reader and,
as the baseline, the bi-encoder cosine the shipped score uses.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from eval.datasets import _COVID_FILE, dev_half
from index.embedding import _local_model_dir, load_embedder
from index.keyword import _zipf
from index.sentences import split_sentences
from index.settings import Settings

_RARE = 4.5  # Zipf below which a word can be swapped
_WORD = re.compile(r"[A-Za-z][\w-]+")

Pair = tuple[int, str, str, int, str]  # article, question, sentence, label, kind


def pairs(limit: int | None = None, seed: int = 0) -> list[Pair]:
    """The labelled (question, sentence) pairs of COVID-QA dev, by article."""
    rng = random.Random(seed)
    articles = [a["paragraphs"][0] for a in json.loads(_COVID_FILE.read_text())["data"]]
    dev = dev_half([str(a["document_id"]) for a in articles])
    articles = [a for a in articles if str(a["document_id"]) in dev][:limit]
    rare = [
        w
        for a in articles
        for qa in a["qas"]
        for w in _WORD.findall(qa["question"])
        if len(w) > 3 and _zipf(w.lower()) < _RARE
    ]
    out: list[Pair] = []
    for n, a in enumerate(articles):
        context = a["context"]
        sentences = split_sentences(context)
        for qa in a["qas"]:
            answer = next((x["text"].strip() for x in qa["answers"] if x["text"].strip()), "")
            start = context.find(answer) if answer else -1
            if start < 0:
                continue
            end = start + len(answer)
            gold = [s for s in sentences if s.start < end and s.end > start]
            if not gold or len(gold) > 2:
                continue
            text, question = " ".join(s.text for s in gold), qa["question"]
            out.append((n, question, text, 1, "pos"))
            held = [
                w
                for w in _WORD.findall(question)
                if len(w) > 3 and w.lower() in text.lower() and _zipf(w.lower()) < _RARE
            ]
            if held:
                word = min(held, key=lambda w: _zipf(w.lower()))
                near = [
                    r
                    for r in rare
                    if abs(_zipf(r.lower()) - _zipf(word.lower())) < 1
                    and r.lower() not in context.lower()
                    and r[0].isupper() == word[0].isupper()
                ]
                if near:
                    out.append((n, question.replace(word, rng.choice(near)), text, 0, "swap"))
            others = [
                s.text
                for s in sentences
                if s not in gold
                and len(s.text.split()) > 5
                and answer.lower() not in s.text.lower()
            ]
            if others:
                out.append((n, question, rng.choice(others), 0, "other"))
    return out


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def main(argv: Sequence[str] | None = None) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    parser = argparse.ArgumentParser(prog="python -m experiments.probe_reader")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=6e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit", type=int, help="Only the first N dev articles (a smoke run).")
    parser.add_argument("--trust", type=Path, help="eval.trust's trust.json: train on all.")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = random.Random(0)
    data = pairs(args.limit)
    train = [p for p in data if args.trust or p[0] % 2 == 0]
    held = [p for p in data if not args.trust and p[0] % 2 == 1]
    model_dir = _local_model_dir(Settings().embed_model)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    loss_of = torch.nn.BCEWithLogitsLoss()

    def encode(batch: Sequence[Pair]) -> dict:
        return tokenizer(
            [p[1] for p in batch],
            [p[2] for p in batch],
            truncation=True,
            max_length=192,
            padding=True,
            return_tensors="pt",
        )

    started = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        rng.shuffle(train)
        for k in range(0, len(train), args.batch_size):
            batch = train[k : k + args.batch_size]
            logits = model(**encode(batch)).logits.squeeze(-1)
            loss = loss_of(logits, torch.tensor([float(p[3]) for p in batch]))
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    trained = time.perf_counter() - started
    model.eval()

    def read(batch: Sequence[Pair]) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate(
                [
                    model(**encode(batch[k : k + 32])).logits.squeeze(-1).numpy().reshape(-1)
                    for k in range(0, len(batch), 32)
                ]
            )

    if args.trust:
        print(f"pairs: train {len(train)}; trained in {trained:.0f} s")
        _with_reader(args.trust, read)
        return
    reader = read(held)
    embedder = load_embedder(Settings())
    q = np.asarray(embedder.get_text_embedding_batch([p[1] for p in held]))
    s = np.asarray(embedder.get_text_embedding_batch([p[2] for p in held]))
    cosine = (q * s).sum(axis=1)
    labels = np.array([p[3] for p in held])
    kinds = np.array([p[4] for p in held])
    print(f"pairs: train {len(train)}, held out {len(held)}; trained in {trained:.0f} s")
    print(f"{'held-out AUC':24}{'cosine':>10}{'reader':>10}")
    for name, keep in (
        ("all", np.ones(len(held), dtype=bool)),
        ("answer vs near miss", kinds != "other"),
        ("answer vs other sentence", kinds != "swap"),
    ):
        if len(set(labels[keep])) < 2:
            continue
        print(
            f"{name:24}{_auc(labels[keep], cosine[keep]):>10.3f}"
            f"{_auc(labels[keep], reader[keep]):>10.3f}"
        )


def _with_reader(path: Path, read: Callable[[Sequence[Pair]], np.ndarray]) -> None:
    """The ceiling of the support features on the trust set, without and with the reader."""
    from experiments.probe_ceiling import ceiling

    run = json.loads(path.read_text())["run"]
    questions = {q["id"]: q for q in run["questions"]}
    asked = [a for a in run["asked"] if a["condition"] == "alone" and a["quotes"]]
    scores = read(
        [(0, questions[a["id"]]["question"], " ".join(a["quotes"]), 0, "") for a in asked]
    )
    features = [
        {**a["support_features"], "reader": float(r)} for a, r in zip(asked, scores, strict=True)
    ]
    labels = [questions[a["id"]]["answerable"] for a in asked]
    print(
        f"trust set alone: {len(asked)} questions with quotes "
        f"({labels.count(False)} not answerable)"
    )
    print(f"reader AUC {_auc(np.array(labels), scores):.3f}")
    names = sorted(k for k in features[0] if k not in ("eligible", "reader"))
    for size in range(1, 5):
        subsets = list(itertools.combinations(names, size))
        if not subsets:
            break
        without = max(ceiling(features, labels, s) for s in subsets)
        with_reader = max(ceiling(features, labels, (*s, "reader")) for s in subsets)
        print(f"{size} features | without reader {without:.3f} | with reader {with_reader:.3f}")


if __name__ == "__main__":
    main()
