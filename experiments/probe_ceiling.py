"""How far could the support features go on the trust set, fitted on every question?

    python -m eval.trust --split all --out eval-out/trust
    python -m experiments.probe_ceiling --trust eval-out/trust/trust.json [--max-features 4]

A ceiling, not a model: for each set of up to `--max-features` of the support features
(`Answer.support_features`) it fits a logistic regression on all the trust set's questions
in one index (dev and test halves alike, which is why nothing here is shipped), then reports
the best correct abstention any threshold reaches while false abstention stays at or below
the issue's 0.05. If that is short of 0.85, no calibration of these features can meet the
goals, and a new signal is needed. A question asking for a quantity that no sentence states
(`eligible` 0) abstains whatever the score, as in rag.answer.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_MAX_FALSE = 0.05  # the goal for false abstention


def ceiling(
    features: list[dict[str, float]], answerable: Sequence[bool], names: Sequence[str]
) -> float:
    """The best correct abstention at false abstention <= 0.05, fitting on everything."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(answerable, dtype=bool)
    x = np.array([[f[k] for k in names] for f in features])
    model = LogisticRegression(C=100.0, max_iter=5000, class_weight="balanced").fit(x, y)
    score = model.predict_proba(x)[:, 1]
    score[[not f.get("eligible", 1.0) for f in features]] = 0.0
    reached = [
        float(np.mean(score[~y] < t))
        for t in np.unique(score)
        if np.mean(score[y] < t) <= _MAX_FALSE
    ]
    return max(reached, default=0.0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.probe_ceiling")
    parser.add_argument("--trust", type=Path, required=True, help="eval.trust's trust.json")
    parser.add_argument("--condition", default="alone")
    parser.add_argument("--max-features", type=int, default=4)
    parser.add_argument("--top", type=int, default=5, help="Feature sets shown per size.")
    args = parser.parse_args(argv)
    run = json.loads(args.trust.read_text())["run"]
    answerable = {q["id"]: q["answerable"] for q in run["questions"]}
    asked = [a for a in run["asked"] if a["condition"] == args.condition and a["support_features"]]
    features = [a["support_features"] for a in asked]
    labels = [answerable[a["id"]] for a in asked]
    names = sorted(k for k in features[0] if k != "eligible")
    print(
        f"{len(asked)} questions ({labels.count(False)} unanswerable), condition "
        f"{args.condition}: best correct abstention at false abstention <= {_MAX_FALSE}, "
        "fitted on all of them"
    )
    for size in range(1, args.max_features + 1):
        ranked = sorted(
            ((ceiling(features, labels, s), s) for s in itertools.combinations(names, size)),
            key=lambda r: -r[0],
        )
        for value, subset in ranked[: args.top]:
            print(f"{size} | {value:.3f} | {'+'.join(subset)}")


if __name__ == "__main__":
    main()
