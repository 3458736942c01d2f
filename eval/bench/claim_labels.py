"""The verifier against people: generated claims labelled by hand (issue #25).

`eval.bench.verifier` checks rag/verify.py on claims built from gold answers; this checks it on
what a real model wrote. `eval.trust --systems generative` keeps every generated sentence
with its verdict and the passages it was written from; a person reads each sentence
against those passages and labels it `supported` (every fact in it is stated there) or
`unsupported` (something in it is not, or contradicts them). Labels are kept in a JSONL
file keyed by question, condition and sentence, so a later run of the verifier over the
same answers is scored against the same labels, and new sentences are listed to label.

    python -m eval.bench.claim_labels --trust eval-out/trust-llm/trust.json \
        [--labels eval/datasets/claims/local-model.jsonl] [--todo FILE]

"Flagged" means a verdict other than `supported` (weak or unsupported), as in
`eval.bench.verifier`: the reader is told to check that sentence.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from eval.datasets import DATASETS_DIR
from eval.trust import TrustRun

__all__ = ["ClaimLabel", "LabelScore", "labelled", "load_labels", "read_run", "score", "todo"]

LABELS = DATASETS_DIR / "claims" / "local-model.jsonl"


class ClaimLabel(BaseModel):
    """One generated sentence as a person read it against the passages it came from."""

    id: str = Field(description="The trust question's id.")
    condition: str = "alone"
    claim: str = Field(min_length=1, description="The sentence as the model wrote it.")
    label: Literal["supported", "unsupported"]
    note: str = Field("", description="Why, for unsupported ones: what the passages lack.")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.id, self.condition, _norm(self.claim))


class LabelScore(BaseModel):
    labelled: int
    unsupported: int
    unsupported_flagged: int
    unsupported_marked_unsupported: int
    supported: int
    supported_flagged: int
    supported_marked_unsupported: int
    unlabelled: int = Field(description="Sentences of the run that no label matches.")


def load_labels(path: Path = LABELS) -> list[ClaimLabel]:
    """The labels, one JSON object a line; a malformed line names its number."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(ClaimLabel.model_validate_json(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not a claim label ({exc})") from exc
    return out


def labelled(
    run: TrustRun, labels: Iterable[ClaimLabel]
) -> tuple[list[tuple[ClaimLabel, str]], list[dict[str, str]]]:
    """(label, the run's verdict) for each labelled sentence the run wrote, and the
    sentences no label covers, as rows to label."""
    by_key = {label.key: label for label in labels}
    pairs, rest = [], []
    for asked in run.asked:
        for claim in asked.claims:
            key = (asked.id, asked.condition, _norm(claim["text"]))
            if key in by_key:
                pairs.append((by_key[key], claim["verdict"]))
            else:
                rest.append({"id": asked.id, "condition": asked.condition, "claim": claim["text"]})
    return pairs, rest


def score(pairs: Sequence[tuple[ClaimLabel, str]], unlabelled: int = 0) -> LabelScore:
    """How many unsupported sentences the verifier flags, and supported ones it flags."""
    bad = [v for label, v in pairs if label.label == "unsupported"]
    good = [v for label, v in pairs if label.label == "supported"]
    return LabelScore(
        labelled=len(pairs),
        unsupported=len(bad),
        unsupported_flagged=sum(v != "supported" for v in bad),
        unsupported_marked_unsupported=sum(v == "unsupported" for v in bad),
        supported=len(good),
        supported_flagged=sum(v != "supported" for v in good),
        supported_marked_unsupported=sum(v == "unsupported" for v in good),
        unlabelled=unlabelled,
    )


def todo(run: TrustRun, rows: Sequence[dict[str, str]]) -> list[dict[str, object]]:
    """Unlabelled sentences with their verdict, quote and passages, to read and label."""
    asked = {(a.id, a.condition): a for a in run.asked}
    out: list[dict[str, object]] = []
    for row in rows:
        a = asked[(row["id"], row["condition"])]
        claim = next(c for c in a.claims if _norm(c["text"]) == _norm(row["claim"]))
        out.append(
            {
                **row,
                "label": None,
                "verdict": claim["verdict"],
                "reason": claim["reason"],
                "quote": claim["quote"],
                "passages": a.passages,
            }
        )
    return out


def read_run(path: Path, system: str = "generative") -> TrustRun:
    """One system's run from eval.trust's trust.json (several systems, or one as before)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "systems" in data:
        if system not in data["systems"]:
            raise SystemExit(f"{path}: no system {system!r} (has {', '.join(data['systems'])})")
        data = data["systems"][system]
    return TrustRun.model_validate(data["run"])


def _norm(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trust", type=Path, required=True, help="eval.trust's trust.json")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--system", default="generative", help="the system in trust.json")
    parser.add_argument("--todo", type=Path, help="write the unlabelled sentences here (JSONL)")
    args = parser.parse_args(argv)
    run = read_run(args.trust, args.system)
    labels = load_labels(args.labels) if args.labels.exists() else []
    pairs, rest = labelled(run, labels)
    result = score(pairs, unlabelled=len(rest))
    if args.todo:
        rows = todo(run, rest)
        args.todo.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(
        f"{result.labelled} labelled sentences ({result.unlabelled} unlabelled)\n"
        f"unsupported by the passages: {result.unsupported}, flagged "
        f"{result.unsupported_flagged} ({result.unsupported_marked_unsupported} unsupported)\n"
        f"supported: {result.supported}, wrongly flagged {result.supported_flagged} "
        f"({result.supported_marked_unsupported} unsupported)"
    )
    print(result.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
