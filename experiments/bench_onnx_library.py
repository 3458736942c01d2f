"""PaperTrail's own int8 ONNX embedder against sentence-transformers' ONNX backend, in one run.

    python -m experiments.bench_onnx_library [--rounds 2] [--limit N]

The library path is what a newcomer would write: `SentenceTransformer(path, backend="onnx")`
exports the bundled MiniLM, `export_dynamic_quantized_onnx_model` quantises it to int8 (the
`avx512_vnni` preset, and the same preset restricted to MatMul, the closest it allows to our
recipe), and LlamaIndex's `HuggingFaceEmbedding(..., backend="onnx")` runs it, as our torch
backend runs torch. Ours is `index/onnx_backend.py` (`embed_backend=onnx-int8`).

Figures, all in this one process:
- embedding throughput on the COVID-QA test sentences, fed as `Indexer` feeds them (length
  sorted, 256 per call); variants alternate within each round and the order rotates;
- cosine of each variant's vectors to torch's on 500 of those sentences;
- COVID-QA dev hit@5 (and hit@1, MRR@10) through the real `Engine` with each embedder,
  relevance by `eval.gold` as in `papertrail eval`.

It needs `sentence-transformers[onnx]` (optimum-onnx), which the registry only ships for
transformers < 4.58 while PaperTrail runs transformers 5; so run it with those packages
in a folder put first on the path, leaving the project's environment alone:

    .venv/bin/python -m pip install --target /tmp/st-onnx --no-deps sentence-transformers==5.7.0 \
        transformers==4.57.6 huggingface_hub==0.36.2 tokenizers==0.22.2 optimum==2.1.0 \
        optimum-onnx==0.1.0
    PYTHONPATH=/tmp/st-onnx:. .venv/bin/python -m experiments.bench_onnx_library
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import load_eval_set, read_corpus
from eval.gold import is_relevant, locate_evidence
from eval.metrics import hit_at, mean, reciprocal_rank
from eval.models import Span
from index.embedding import load_embedder, resolve_model_path
from index.sentences import split_sentences
from index.settings import Settings
from rag.engine import Engine

OURS = "ours (onnx-int8)"
LIB = "library, avx512_vnni preset"
LIB_MATMUL = "library, preset on MatMul only"
_HANDOVER = 256  # Indexer hands the embedder embed_batch_size * 8 texts a call


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed passes per variant")
    parser.add_argument(
        "--limit", type=int, default=None, help="first N test sentences and dev questions"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="papertrail-onnx-lib-") as tmp:
        work = Path(tmp)
        embedders = {OURS: load_embedder(Settings(embed_backend="onnx-int8"))}
        embedders.update(_library_embedders(work / "export"))
        texts = _test_sentences(work / "test", args.limit)
        print(_versions(), f"{len(texts):,} COVID-QA test sentences, {args.rounds} round(s)")
        print(_throughput(embedders, texts, args.rounds))
        print(_fidelity(embedders, texts))
        print(_quality(embedders, work / "dev", args.limit))


def _library_embedders(folder: Path) -> dict[str, Any]:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from optimum.onnxruntime.configuration import AutoQuantizationConfig
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    started = time.perf_counter()
    model = SentenceTransformer(
        resolve_model_path("all-MiniLM-L6-v2"), backend="onnx", device="cpu"
    )
    model.save_pretrained(str(folder))
    export_dynamic_quantized_onnx_model(model, "avx512_vnni", str(folder))
    matmul = AutoQuantizationConfig.avx512_vnni(is_static=False, operators_to_quantize=["MatMul"])
    export_dynamic_quantized_onnx_model(model, matmul, str(folder), file_suffix="qint8_matmul")
    print(f"library export and two quantisations: {time.perf_counter() - started:.1f} s")

    def load(file_name: str) -> Any:
        return HuggingFaceEmbedding(
            model_name=str(folder),
            device="cpu",
            embed_batch_size=Settings().embed_batch_size,
            backend="onnx",
            model_kwargs={"file_name": file_name},
        )

    return {
        LIB: load("onnx/model_qint8_avx512_vnni.onnx"),
        LIB_MATMUL: load("onnx/model_qint8_matmul.onnx"),
    }


def _test_sentences(work: Path, limit: int | None) -> list[str]:
    test = load_eval_set("covid-qa", work_dir=work, split="test")
    docs = [f.document for f in read_corpus(test.corpus)]
    texts = [s.text for d in docs for s in split_sentences(d.text)]
    return texts[:limit]


def _embed_as_indexer(embedder: Any, texts: list[str]) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts: list[list[float]] = []
    for i in range(0, len(order), _HANDOVER):
        parts += embedder.get_text_embedding_batch([texts[r] for r in order[i : i + _HANDOVER]])
    vectors = np.empty((len(texts), len(parts[0])), dtype=np.float32)
    vectors[order] = np.asarray(parts, dtype=np.float32)
    return vectors


def _throughput(embedders: dict[str, Any], texts: list[str], rounds: int) -> str:
    names = list(embedders)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    for embedder in embedders.values():  # warm-up: a session's first runs allocate
        _embed_as_indexer(embedder, texts[:64])
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds[name].append(_timed(lambda n=name: _embed_as_indexer(embedders[n], texts)))
    chars = sum(map(len, texts))
    rows = [
        "| variant | seconds per pass | sentences/s | chars/s | x ours (paired) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in names:
        ratio = statistics.median(o / s for o, s in zip(seconds[OURS], seconds[name], strict=True))
        per = statistics.median(seconds[name])
        runs = ", ".join(f"{s:.1f}" for s in seconds[name])
        rows.append(
            f"| {name} | {runs} | {len(texts) / per:,.0f} | {chars / per:,.0f} | {ratio:.2f} |"
        )
    return "\n".join(rows) + "\n"


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _fidelity(embedders: dict[str, Any], texts: list[str]) -> str:
    sample = texts[:: max(1, len(texts) // 500)][:500]
    torch = _embed_as_indexer(load_embedder(Settings(embed_backend="torch")), sample)
    rows = ["| variant | min cosine to torch | mean cosine to torch |", "|---|---:|---:|"]
    for name, embedder in embedders.items():
        v = _embed_as_indexer(embedder, sample)
        cos = (v * torch).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(torch, axis=1))
        rows.append(f"| {name} | {cos.min():.4f} | {cos.mean():.4f} |")
    return "\n".join(rows) + "\n"


def _quality(embedders: dict[str, Any], work: Path, limit: int | None) -> str:
    dev = load_eval_set("covid-qa", work_dir=work / "files", split="dev", limit=limit)
    evidence, _ = locate_evidence(dev.questions, read_corpus(dev.corpus))
    questions = [q for q in dev.questions if q.id in evidence]
    rows = [
        "| variant | dev hit@1 | dev hit@5 | dev MRR@10 | ingest s |",
        "|---|---:|---:|---:|---:|",
    ]
    for n, (name, embedder) in enumerate(embedders.items()):
        settings = Settings(index_dir=work / f"index-{n}", embed_backend="onnx-int8")
        engine = Engine.open(settings, embedder=embedder)
        ingest = _timed(lambda engine=engine: engine.ingest([Path(p) for p in dev.corpus]))
        ranks = []
        for q in questions:
            passages = engine.retrieve(q.question, 10)
            spans = [Span(doc_id=p.doc_id, start=p.start, end=p.end) for p in passages]
            ranks.append([is_relevant(s, evidence[q.id]) for s in spans])
        print(f"{name}: {len(questions)} dev questions scored", file=sys.stderr, flush=True)
        rows.append(
            f"| {name} | {mean([hit_at(r, 1) for r in ranks]):.4f} | "
            f"{mean([hit_at(r, 5) for r in ranks]):.4f} | "
            f"{mean([reciprocal_rank(r) for r in ranks]):.4f} | {ingest:.1f} |"
        )
    return "\n".join(rows) + "\n"


def _versions() -> str:
    import onnxruntime
    import optimum.version
    import sentence_transformers
    import transformers

    return (
        f"{os.cpu_count()} CPUs; onnxruntime {onnxruntime.__version__}, sentence-transformers "
        f"{sentence_transformers.__version__}, optimum {optimum.version.__version__}, "
        f"transformers {transformers.__version__};"
    )


if __name__ == "__main__":
    main()
