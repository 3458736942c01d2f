"""The benchmark table: COVID-QA (test split) and PubMedQA (official test set), all systems.

    .venv/bin/python -m eval.bench                 # full run, results in eval-out/bench/
    .venv/bin/python -m eval.bench --limit 20      # a quick smoke run

Each dataset's results.json and report.html go to OUT/<dataset>-test/; the combined
tables go to OUT/BENCHMARK.md and the terminal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from eval.cli import DEFAULT_SYSTEMS

__all__ = ["BENCH_DATASETS", "main"]

BENCH_DATASETS = ("covid-qa", "pubmedqa")


def bench(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("eval-out/bench"),
    limit: Annotated[int | None, typer.Option(min=1, help="First N questions per set.")] = None,
    systems: Annotated[str, typer.Option(help="Comma-separated systems.")] = DEFAULT_SYSTEMS,
) -> None:
    """Reproduce the benchmark table."""
    from eval.main import EvalRequest, evaluate_request
    from eval.report import format_table

    tables = []
    for dataset in BENCH_DATASETS:
        request = EvalRequest(
            dataset=dataset,
            split="test",
            limit=limit,
            systems=[s.strip() for s in systems.split(",") if s.strip()],
            out=out / f"{dataset}-test",
        )
        results, _ = evaluate_request(request)
        tables.append(format_table(results))
        typer.echo(tables[-1] + "\n")
    command = "python -m eval.bench" + (f" --limit {limit}" if limit else "")
    body = "\n\n".join(f"```\n{t}\n```" for t in tables)
    (out / "BENCHMARK.md").write_text(f"# PaperTrail benchmark\n\n`{command}`\n\n{body}\n")
    typer.echo(f"wrote {out / 'BENCHMARK.md'}")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    typer.run(bench)


if __name__ == "__main__":
    main()
