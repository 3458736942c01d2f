"""Does leaving a question word out show which words the quoted sentence answers?

    PAPERTRAIL_ANSWER__MIN_EVIDENCE=0 python -m eval.trust --split all --out eval-out/trust
    python -m experiments.probe_occlusion --trust eval-out/trust/trust.json

Occlusion with the embedder itself, as a reader we do not have: for each content word of a
question, how much the question's cosine to each of its first three quotes drops when the
word is left out. A word the text answers should matter to some quote; "burn" in "infection
rate after plasma treatment of burn wounds", asked of a paper about diabetic ulcers, should
not. Features per answered question: the smallest such drop over its words (`occlusion`;
the best quote's only, `occlusion_best`) and the mean drop, printed as ROC AUC for telling
answerable from unanswerable on the trust set's dev and test halves, beside the best
quote's cosine and the shipped calibrated score. Nothing here is shipped.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

_FEATURES = ("cosine", "occlusion", "occlusion_best", "occlusion_mean", "score")


def occlusion_features(
    embed: Callable[[list[str]], np.ndarray], question: str, quotes: Sequence[str]
) -> dict[str, float]:
    """Cosine and leave-one-word-out drops of `question` against `quotes` (unit vectors)."""
    from index.keyword import content_words  # the project's stopwords (bm25s's English list)

    kept = set(content_words(question))
    words = re.findall(r"[A-Za-z0-9'-]+", question)
    content = [i for i, w in enumerate(words) if w.lower() in kept and len(w) > 2]
    variants = [" ".join(w for j, w in enumerate(words) if j != i) for i in content]
    vectors = np.asarray(embed([question, *variants, *quotes]))
    q, left_out, s = vectors[0], vectors[1 : 1 + len(variants)], vectors[1 + len(variants) :]
    cosine = s @ q
    if not content:
        return {"cosine": float(cosine.max()), "occlusion": 0.0, "occlusion_best": 0.0,
                "occlusion_mean": 0.0}  # fmt: skip
    drop = cosine[None, :] - left_out @ s.T  # word x quote
    best = drop[:, int(np.argmax(cosine))]
    return {
        "cosine": float(cosine.max()),
        "occlusion": float(drop.max(axis=1).min()),
        "occlusion_best": float(best.min()),
        "occlusion_mean": float(best.mean()),
    }


def _auc(labels: list[bool], scores: list[float]) -> str:
    from sklearn.metrics import roc_auc_score

    return f"{roc_auc_score(labels, scores):.3f}" if len(set(labels)) == 2 else "-"


def main(argv: Sequence[str] | None = None) -> None:
    from sentence_transformers import SentenceTransformer

    from eval.datasets import dev_half
    from index.embedding import resolve_model_path
    from index.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m experiments.probe_occlusion")
    parser.add_argument("--trust", type=Path, required=True, help="eval.trust's trust.json")
    parser.add_argument("--condition", default="alone")
    args = parser.parse_args(argv)
    model = SentenceTransformer(resolve_model_path(Settings().embed_model), device="cpu")

    def embed(texts: list[str]) -> np.ndarray:
        return model.encode(texts, normalize_embeddings=True)

    run = json.loads(args.trust.read_text())["run"]
    questions = {q["id"]: q for q in run["questions"]}
    dev = dev_half(list(questions))
    rows = []
    for asked in run["asked"]:
        if asked["condition"] != args.condition or not asked["quotes"]:
            continue
        q = questions[asked["id"]]
        features = occlusion_features(embed, q["question"], asked["quotes"][:3])
        features["score"] = float(asked.get("evidence_score") or 0.0)
        rows.append((q["answerable"], asked["id"] in dev, features))
    unanswerable = sum(not r[0] for r in rows)
    print(f"{len(rows)} questions with quotes ({unanswerable} not answerable)")
    print(f"{'feature':<16} {'dev AUC':>8} {'test AUC':>8}")
    for name in _FEATURES:
        cells = []
        for half in (True, False):
            part = [r for r in rows if r[1] == half]
            cells.append(_auc([r[0] for r in part], [r[2][name] for r in part]))
        print(f"{name:<16} {cells[0]:>8} {cells[1]:>8}")


if __name__ == "__main__":
    main()
