"""Ingest speed against stock LlamaIndex, side by side in one run (#29).

    .venv/bin/python -m eval.bench.ingest [--dataset covid-qa] [--split test] [--repeat 3]

Each repeat indexes the dataset's corpus with `papertrail` and `llamaindex-default`
(eval.baselines) in fresh processes, alternating, so both share the machine's load; it
reports each system's median chars/s, their ratio, and where PaperTrail's time went
(reading, embedding, duplicates, writing, deriving the search segment: eval.bench.scale's
split). llamaindex-default embeds its 1,024-token chunks through a 256-token model, so it
reads about a quarter of the text it is given; PaperTrail embeds every sentence.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("llamaindex-default", "papertrail")


def _worker(system: str, dataset: str, split: str, work: Path) -> dict[str, Any]:
    from eval.baselines import open_system
    from eval.bench.scale import timed_split
    from eval.datasets import load_eval_set
    from rag import Settings

    evalset = load_eval_set(dataset, work_dir=work / "data", split=split)  # type: ignore[arg-type]
    paths = [Path(p) for p in evalset.corpus]
    chars = sum(len(p.read_text(encoding="utf-8")) for p in paths)
    opened = open_system(system, Settings(index_dir=work / "index"))
    getattr(opened, "_embedder", None) or opened._engine.embedder  # loaded, untimed
    with timed_split() as split_s:
        t0 = time.perf_counter()
        opened.ingest(paths)
        seconds = time.perf_counter() - t0
    return {"chars": chars, "ingest_s": seconds, "split": split_s if system == "papertrail" else {}}


def _run(system: str, dataset: str, split: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as work:
        code = (
            "import json,sys; from pathlib import Path; from eval.bench.ingest import _worker; "
            "print('RESULT ' + json.dumps(_worker(*sys.argv[1:4], Path(sys.argv[4]))))"
        )
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(_ROOT)}
        proc = subprocess.run(
            [sys.executable, "-c", code, system, dataset, split, work],
            env=env,
            capture_output=True,
            text=True,
            cwd=_ROOT,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{system} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="covid-qa")
    parser.add_argument("--split", default="test")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in SYSTEMS}
    load = os.getloadavg()[0]
    for i in range(args.repeat):
        for system in SYSTEMS if i % 2 == 0 else reversed(SYSTEMS):
            row = _run(system, args.dataset, args.split)
            runs[system].append(row)
            print(f"{system}: {row['chars'] / row['ingest_s']:,.0f} chars/s", flush=True)
    speed = {s: statistics.median(r["chars"] / r["ingest_s"] for r in runs[s]) for s in SYSTEMS}
    command = "python -m eval.bench.ingest " + " ".join(sys.argv[1:] if argv is None else argv)
    print(
        f"\n`{command.strip()}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {load:.1f} "
        f"-> {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores, medians of {args.repeat}:\n"
    )
    print("| system | chars/s | each run |\n|---|---|---|")
    for s in SYSTEMS:
        each = ", ".join(f"{r['chars'] / r['ingest_s']:,.0f}" for r in runs[s])
        print(f"| {s} | {speed[s]:,.0f} | {each} |")
    ratio = speed["papertrail"] / speed["llamaindex-default"]
    print(f"\npapertrail / llamaindex-default: {ratio:.2f}x")
    parts = runs["papertrail"][0]["split"].keys()
    split = {p: statistics.median(r["split"][p] for r in runs["papertrail"]) for p in parts}
    total = statistics.median(r["ingest_s"] for r in runs["papertrail"])
    print(
        "\nPaperTrail's ingest, median s: "
        + ", ".join(f"{p} {v:.2f}" for p, v in split.items())
        + f"; total {total:.2f}"
    )


if __name__ == "__main__":
    main()
