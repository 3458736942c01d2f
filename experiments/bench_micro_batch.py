"""What one-text-at-a-time int8 embedding costs, against the old groups of 8, in one process.

    python -m experiments.bench_micro_batch [--rounds 4] [--limit 2000] [--articles 30]

ONNX Runtime's dynamic quantisation scales activations per tensor, so with 8 texts a run
each int8 vector depended on the other 7 and on their padding (issue #14). The shipped
`onnx-int8` now runs micro-batches of 1 (`index/onnx_backend.py`). Variants, all on one
int8 export (fp32 for reference), alternating within each round with the order rotating,
because the machine is shared and noisy:

- embedding throughput on COVID-QA test sentences, fed as `Indexer` feeds them (length
  sorted, 256 a call), and the cosine of each sentence's vector in that feed to its vector
  alone (1.0 means it does not depend on its companions);
- whole ingest (`Engine.ingest`: read, chunk, embed, store) of the first N test articles,
  old grouping and per-row scales against the shipped one.

"int8 per-row scales" is a candidate, not shipped: the same int8 export with each
DynamicQuantizeLinear (one scale per tensor) rewritten into plain ops that scale each token
row on its own (symmetric, zero point 128), so groups of 8 stay independent of companions and
padding. ONNX Runtime's MatMulIntegerToFloat fusion assumes one scale per tensor, so that
fusion is switched off for it (with it on, cosine to fp32 fell to 0.65).

Ratios to the shipped variant, paired round by round, are the figures to read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import load_eval_set, read_corpus
from index.embedding import _local_model_dir, _onnx_cache_dir
from index.onnx_backend import _WORKERS, OnnxEmbedding, _ensure_export, _quantize, _read_layout
from index.sentences import split_sentences
from index.settings import Settings
from rag.engine import Engine

SHIPPED = "int8, 1 a run, 2 workers (shipped)"
# name -> (backend, micro-batch, workers)
VARIANTS: dict[str, tuple[str, int, int]] = {
    SHIPPED: ("onnx-int8", 1, _WORKERS),
    "int8, 8 a run (before)": ("onnx-int8", 8, _WORKERS),
    "int8, 1 a run, 2x workers": ("onnx-int8", 1, 2 * _WORKERS),
    "fp32, 8 a run": ("onnx", 8, _WORKERS),
}
PER_ROW = "int8 per-row scales, 8 a run (candidate)"
BEFORE = "int8, 8 a run (before)"
_HANDOVER = 256  # Indexer hands the embedder embed_batch_size * 8 texts a call


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="timed passes per variant")
    parser.add_argument("--limit", type=int, default=2000, help="test sentences embedded")
    parser.add_argument("--articles", type=int, default=30, help="test articles ingested")
    args = parser.parse_args()
    embedders = {name: _embedder(*spec) for name, spec in VARIANTS.items()}
    with tempfile.TemporaryDirectory(prefix="papertrail-micro-batch-") as tmp:
        work = Path(tmp)
        embedders[PER_ROW] = _per_row_embedder(work / "per-row")
        test = load_eval_set("covid-qa", work_dir=work / "files", split="test")
        docs = [f.document for f in read_corpus(test.corpus)]
        texts = [s.text for d in docs for s in split_sentences(d.text)]
        texts = texts[:: max(1, len(texts) // args.limit)][: args.limit]
        print(
            f"{os.cpu_count()} CPUs; {len(texts):,} COVID-QA test sentences, {args.rounds} round(s)"
        )
        print(_throughput(embedders, texts, args.rounds))
        print(_cosine_to_fp32(embedders, texts))
        print(_ingest(embedders, [Path(p) for p in test.corpus[: args.articles]], work, args))


def _embedder(backend: str, micro_batch: int, workers: int) -> OnnxEmbedding:
    settings = Settings()
    layout = _read_layout(_local_model_dir(settings.embed_model))
    return OnnxEmbedding(
        export_dir=_ensure_export(layout, backend, _onnx_cache_dir()),  # type: ignore[arg-type]
        model_name=settings.embed_model,
        max_length=layout.max_seq_length,
        lowercase=layout.do_lower_case,
        embed_batch_size=settings.embed_batch_size,
        micro_batch=micro_batch,
        workers=workers,
    )


def _per_row_embedder(folder: Path) -> OnnxEmbedding:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    embedder = _embedder("onnx-int8", 8, _WORKERS)
    # Quantised from the fp32 export without fusing attention: QAttention takes one scale
    # per tensor, so the per-row rewrite needs the plain MatMulInteger graph.
    source = _ensure_export(
        _read_layout(_local_model_dir(Settings().embed_model)), "onnx", _onnx_cache_dir()
    )
    folder.mkdir(parents=True)
    _quantize(source / "model.onnx", folder / "unfused-int8.onnx")
    model = onnx.load(str(folder / "unfused-int8.onnx"))
    graph = model.graph
    constants = {"pr_127": 127.0, "pr_eps": 1e-8, "pr_128": 128.0, "pr_0": 0.0, "pr_255": 255.0}
    graph.initializer.extend(
        [numpy_helper.from_array(np.array(v, dtype=np.float32), k) for k, v in constants.items()]
        + [numpy_helper.from_array(np.array(128, dtype=np.uint8), "pr_zp")]
    )
    nodes: list[Any] = []
    zero_points: set[str] = set()
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        x, (q, scale, zero_point), p = node.input[0], node.output, node.output[0]
        zero_points.add(zero_point)
        nodes += [
            helper.make_node("Abs", [x], [p + "_abs"]),
            helper.make_node("ReduceMax", [p + "_abs"], [p + "_max"], axes=[-1], keepdims=1),
            helper.make_node("Div", [p + "_max", "pr_127"], [p + "_s"]),
            helper.make_node("Max", [p + "_s", "pr_eps"], [scale]),
            helper.make_node("Div", [x, scale], [p + "_xs"]),
            helper.make_node("Round", [p + "_xs"], [p + "_r"]),
            helper.make_node("Add", [p + "_r", "pr_128"], [p + "_u"]),
            helper.make_node("Clip", [p + "_u", "pr_0", "pr_255"], [p + "_c"]),
            helper.make_node("Cast", [p + "_c"], [q], to=TensorProto.UINT8),
        ]
    for node in nodes:
        for i, name in enumerate(node.input):
            if name in zero_points:
                node.input[i] = "pr_zp"
    del graph.node[:]
    graph.node.extend(nodes)
    (folder / "unfused-int8.onnx").unlink()
    onnx.save(model, str(folder / "model.onnx"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    embedder._session = ort.InferenceSession(
        str(folder / "model.onnx"),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=["SkipLayerNormFusion", "MatMulIntegerToFloatFusion"],
    )
    return embedder


def _cosine_to_fp32(embedders: dict[str, OnnxEmbedding], texts: list[str]) -> str:
    fp32 = _embed_as_indexer(embedders["fp32, 8 a run"], texts)
    rows = ["| variant | min / mean cosine to fp32 |", "|---|---:|"]
    for name, embedder in embedders.items():
        cos = _cosines(_embed_as_indexer(embedder, texts), fp32)
        rows.append(f"| {name} | {cos.min():.4f} / {cos.mean():.4f} |")
    return "\n".join(rows) + "\n"


def _embed_as_indexer(embedder: Any, texts: list[str]) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts: list[list[float]] = []
    for i in range(0, len(order), _HANDOVER):
        parts += embedder.get_text_embedding_batch([texts[r] for r in order[i : i + _HANDOVER]])
    vectors = np.empty((len(texts), len(parts[0])), dtype=np.float32)
    vectors[order] = np.asarray(parts, dtype=np.float32)
    return vectors


def _throughput(embedders: dict[str, OnnxEmbedding], texts: list[str], rounds: int) -> str:
    names = list(embedders)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    batched: dict[str, np.ndarray] = {}
    for name, embedder in embedders.items():  # warm-up: a session's first runs allocate
        batched[name] = _embed_as_indexer(embedder, texts)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds[name].append(_timed(lambda n=name: _embed_as_indexer(embedders[n], texts)))
    sample = texts[:: max(1, len(texts) // 500)][:500]
    at = [texts.index(t) for t in sample]
    chars = sum(map(len, texts))
    rows = [
        "| variant | seconds per pass | chars/s | x shipped (paired) | "
        "min / mean cosine, in the feed vs alone |",
        "|---|---|---:|---:|---:|",
    ]
    for name in names:
        ratio = statistics.median(
            s / o for s, o in zip(seconds[SHIPPED], seconds[name], strict=True)
        )
        alone = np.array([embedders[name].get_text_embedding(t) for t in sample])
        cos = _cosines(batched[name][at], alone)
        runs = ", ".join(f"{s:.1f}" for s in seconds[name])
        per = statistics.median(seconds[name])
        rows.append(
            f"| {name} | {runs} | {chars / per:,.0f} | {ratio:.2f} | "
            f"{cos.min():.7f} / {cos.mean():.7f} |"
        )
    return "\n".join(rows) + "\n"


def _ingest(embedders: dict[str, OnnxEmbedding], files: list[Path], work: Path, args: Any) -> str:
    names = [SHIPPED, BEFORE, PER_ROW]
    chars = sum(len(f.read_text(encoding="utf-8", errors="replace")) for f in files)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            settings = Settings(index_dir=work / f"index-{r}-{names.index(name)}")
            engine = Engine.open(settings, embedder=embedders[name])
            seconds[name].append(_timed(lambda e=engine: e.ingest(files)))
    rows = [
        f"Whole ingest of {len(files)} COVID-QA test articles ({chars:,} chars):",
        "",
        "| variant | seconds per ingest | chars/s | x shipped (paired) |",
        "|---|---|---:|---:|",
    ]
    for name in names:
        ratio = statistics.median(
            s / o for s, o in zip(seconds[SHIPPED], seconds[name], strict=True)
        )
        runs = ", ".join(f"{s:.1f}" for s in seconds[name])
        per = statistics.median(seconds[name])
        rows.append(f"| {name} | {runs} | {chars / per:,.0f} | {ratio:.2f} |")
    return "\n".join(rows) + "\n"


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


if __name__ == "__main__":
    main()
