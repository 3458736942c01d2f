"""The eval entry point behind the CLI and the bench: settings, question set, run, outputs."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from eval.baselines import SYSTEMS
from eval.datasets import load_eval_set
from eval.evaluate import evaluate
from eval.models import Results, Split
from eval.report import format_table, write_outputs
from rag import PaperTrailError, Settings

__all__ = ["EvalRequest", "evaluate_request", "run_eval", "user_error"]


class EvalRequest(BaseModel):
    """One `papertrail eval` invocation."""

    dataset: str = Field(description="covid-qa, pubmedqa, seed, or a path to a .jsonl file.")
    split: Split | None = None
    limit: int | None = Field(None, ge=1)
    sample: int | None = Field(None, ge=1)
    distractors: int = Field(3, ge=0)
    systems: list[str] = Field(min_length=1)
    out: Path | None = None
    corpus: list[str] = Field(default_factory=list)
    embed_model: str | None = None
    isolate: bool = True


def run_eval(request: EvalRequest) -> str:
    """Evaluate, write the outputs, and return the terminal table."""
    results = evaluate_request(request)[0]
    return format_table(results)


def evaluate_request(request: EvalRequest) -> tuple[Results, Path]:
    """Run one request; returns its results and the folder they were written to."""
    unknown = [s for s in request.systems if s not in SYSTEMS]
    if unknown:
        raise PaperTrailError(f"unknown system(s) {', '.join(unknown)}; choose from {SYSTEMS}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings = Settings(**({"embed_model": request.embed_model} if request.embed_model else {}))
    with tempfile.TemporaryDirectory(prefix="papertrail-eval-") as tmp:
        work = Path(tmp)
        eval_set = load_eval_set(
            request.dataset,
            work_dir=work / "corpus",
            split=request.split,
            limit=request.limit,
            sample=request.sample,
            distractors=request.distractors,
            corpus=[Path(p) for p in request.corpus],
        )
        out = request.out or Path("eval-out") / f"{eval_set.name}-{eval_set.split}"
        print(
            f"{eval_set.name} ({eval_set.split}): {len(eval_set.questions)} questions, "
            f"{len(eval_set.corpus)} documents, systems: {', '.join(request.systems)}",
            file=sys.stderr,
        )
        evaluation = evaluate(
            eval_set, settings, systems=request.systems, work_dir=work, isolate=request.isolate
        )
    write_outputs(evaluation, out)
    print(f"wrote {out}/results.json, {out}/report.html", file=sys.stderr)
    return evaluation.results, out


def user_error(exc: BaseException) -> str | None:
    """A one-line message for errors the user can fix; None for bugs."""
    if isinstance(exc, PaperTrailError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return None
