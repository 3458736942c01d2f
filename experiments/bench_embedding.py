"""Embedding speed and fidelity of the torch, onnx and onnx-int8 backends, in one process.

    .venv/bin/python -m experiments.bench_embedding              # 3 rounds, ~3 minutes on 2 cores
    .venv/bin/python -m experiments.bench_embedding --rounds 1   # a quick look

Texts are sentences and 1,000-character chunks cut from the vendored COVID-QA articles
(the bundled article, repeated, if they are absent). Backends alternate within each round
and the order rotates between rounds, so a slow spell of this shared machine hits all of
them. Ratios to torch, paired round by round, are the figures to read; absolute chars/s
vary from run to run. Loading (and a first-time ONNX export) happens before timing.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Callable
from typing import Annotated

import numpy as np
import typer

from eval.datasets import DATASETS_DIR

__all__ = ["main"]

BACKENDS = ("torch", "onnx", "onnx-int8")
_COVID_QA = DATASETS_DIR / "covid-qa" / "covid-qa-200423.json"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CHUNK = 1000


def bench_embedding(
    rounds: Annotated[int, typer.Option(min=1, help="Timed passes over every backend.")] = 3,
    sentences: Annotated[int, typer.Option(min=1, help="Sentences per pass.")] = 256,
    chunks: Annotated[int, typer.Option(min=1, help="1,000-character chunks per pass.")] = 48,
) -> None:
    """Time each backend on the same texts; print a markdown table."""
    sets = _text_sets(sentences, chunks)
    embed = {backend: _embedder(backend) for backend in BACKENDS}
    seconds: dict[tuple[str, str], list[float]] = {}
    vectors: dict[tuple[str, str], np.ndarray] = {}
    for r in range(rounds):
        for backend in _rotated(BACKENDS, r):
            for kind, texts in sets.items():
                start = time.perf_counter()
                result = embed[backend](texts)
                seconds.setdefault((kind, backend), []).append(time.perf_counter() - start)
                vectors.setdefault((kind, backend), np.array(result))
    typer.echo(_header(sets, rounds))
    typer.echo(_table(sets, seconds, vectors))


def _rotated(items: tuple[str, ...], by: int) -> tuple[str, ...]:
    k = by % len(items)
    return items[k:] + items[:k]


def _text_sets(n_sentences: int, n_chunks: int) -> dict[str, list[str]]:
    articles = _articles()
    found = [s.strip() for a in articles for s in _SENTENCE_END.split(a)]
    pieces = [a[i : i + _CHUNK] for a in articles for i in range(0, len(a) - _CHUNK + 1, _CHUNK)]
    return {
        "sentences": _spread([s for s in found if 20 <= len(s) <= 400], n_sentences),
        "1,000-char chunks": _spread(pieces, n_chunks),
    }


def _articles() -> list[str]:
    if _COVID_QA.is_file():
        data = json.loads(_COVID_QA.read_text(encoding="utf-8"))["data"]
        return [p["context"] for article in data for p in article["paragraphs"]]
    from index.settings import BUNDLED_CORPUS

    return [BUNDLED_CORPUS.read_text(encoding="utf-8")] * 40


def _spread(items: list[str], n: int) -> list[str]:
    """n items evenly spaced through the list, so every article contributes."""
    step = max(1, len(items) // n)
    return items[::step][:n]


def _embedder(backend: str) -> Callable[[list[str]], list[list[float]]]:
    from eval.evaluate import embed_texts
    from rag import Settings

    settings = Settings().model_copy(update={"embed_backend": backend})
    embed_texts(settings, ["Warm-up: load the model, exporting it if needed."])
    return lambda texts: embed_texts(settings, texts)


def _header(sets: dict[str, list[str]], rounds: int) -> str:
    import onnxruntime
    import torch

    counts = ", ".join(f"{len(t)} {kind} ({sum(map(len, t)):,} chars)" for kind, t in sets.items())
    return (
        f"{counts}; {rounds} round(s); {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}\n"
    )


def _table(
    sets: dict[str, list[str]],
    seconds: dict[tuple[str, str], list[float]],
    vectors: dict[tuple[str, str], np.ndarray],
) -> str:
    rows = [
        "| texts | backend | chars/s | × torch | min cosine | mean cosine |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for kind, texts in sets.items():
        chars = sum(map(len, texts))
        base = seconds[(kind, "torch")]
        for backend in BACKENDS:
            own = seconds[(kind, backend)]
            speedup = statistics.median(b / o for b, o in zip(base, own, strict=True))
            cos = _cosines(vectors[(kind, backend)], vectors[(kind, "torch")])
            rows.append(
                f"| {kind} | {backend} | {chars / statistics.median(own):,.0f} | "
                f"{speedup:.2f} | {cos.min():.4f} | {cos.mean():.4f} |"
            )
    return "\n".join(rows)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    typer.run(bench_embedding)


if __name__ == "__main__":
    main()
