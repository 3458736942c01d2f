"""`papertrail eval`: cheap to import; the evaluation machinery loads when the command runs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DEFAULT_SYSTEMS", "eval_command"]

DEFAULT_SYSTEMS = "papertrail,bm25,dense,llamaindex-default"


class AnswerModeChoice(StrEnum):
    extractive = "extractive"
    generative = "generative"


class SplitChoice(StrEnum):
    dev = "dev"
    test = "test"
    all = "all"


def eval_command(
    dataset: Annotated[
        str,
        typer.Argument(
            help="covid-qa, pubmedqa, seed, a .jsonl question file, followups "
            "(two-turn conversations: python -m eval.followups) or verifier (the claim "
            "verifier's benchmark on COVID-QA; --limit then counts articles)."
        ),
    ],
    split: Annotated[
        SplitChoice | None,
        typer.Option(help="Question split [default: test for benchmarks, all otherwise]."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="First N questions; index only their documents + distractors."),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="N questions spread over the split, the same for every system and machine "
            "(by SHA-256 of their ids); index only their documents + distractors.",
        ),
    ] = None,
    distractors: Annotated[
        int, typer.Option(min=0, help="Extra documents indexed with --limit or --sample.")
    ] = 3,
    systems: Annotated[
        str, typer.Option(help="Comma-separated: papertrail,bm25,dense,llamaindex-default,random.")
    ] = DEFAULT_SYSTEMS,
    out: Annotated[
        Path | None, typer.Option(help="Output folder [default: eval-out/DATASET-SPLIT].")
    ] = None,
    corpus: Annotated[
        list[Path] | None,
        typer.Option(help="Files or folders to index for a JSONL set (repeat the option)."),
    ] = None,
    embed_model: Annotated[
        str | None, typer.Option(help="sentence-transformers model [env: PAPERTRAIL_EMBED_MODEL].")
    ] = None,
    isolate: Annotated[
        bool, typer.Option(help="Run each system in a fresh process (own memory and timings).")
    ] = True,
    answer_mode: Annotated[
        AnswerModeChoice,
        typer.Option(
            "--answer-mode",
            help="generative adds papertrail-generative (the LLM set by PAPERTRAIL_LLM__*) "
            "beside the extractive papertrail: faithfulness, ALCE citation precision/recall, "
            "time to first token.",
        ),
    ] = AnswerModeChoice.extractive,
) -> None:
    """Evaluate answer quality against baselines; writes results.json and report.html."""
    from eval.main import EvalRequest, run_eval, user_error

    if dataset == "verifier":
        from eval.bench.verifier import run_and_report

        if split == SplitChoice.all:
            typer.echo("Error: the verifier benchmark has a dev and a test split", err=True)
            raise typer.Exit(1)
        typer.echo(run_and_report(split.value if split else "test", limit=limit, out=out))
        return

    if dataset == "followups":  # its own set-up: one index, three follow-up policies
        from eval.followups import main as followups

        where = ["--out", str(out)] if out else []
        followups(["--split", split.value if split else "all", *where])
        return

    try:
        request = EvalRequest(
            dataset=dataset,
            split=split.value if split else None,
            limit=limit,
            sample=sample,
            distractors=distractors,
            systems=_systems(systems, answer_mode.value),
            out=out,
            corpus=[str(p) for p in corpus or []],
            embed_model=embed_model,
            isolate=isolate,
        )
        table = run_eval(request)
    except Exception as exc:  # domain and settings errors: one line and exit code 1
        message = user_error(exc)
        if message is None:
            raise
        typer.echo(f"Error: {message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(table)


def _systems(systems: str, answer_mode: str) -> list[str]:
    names = [s.strip() for s in systems.split(",") if s.strip()]
    if answer_mode == "generative":
        names += [n for n in ("papertrail", "papertrail-generative") if n not in names]
    return names
