"""sentence-transformers models on ONNX Runtime, exported locally once per model.

The embedder reads the model's own sentence-transformers configuration (modules.json, the
Transformer's sentence_bert_config.json, the Pooling config), so truncation and pooling
match what sentence-transformers does on torch. Only Transformer → mean Pooling
(→ Normalize) models are supported; anything else is refused rather than approximated.

Each export lives in its own folder under the cache directory, named after a hash of the
source files' paths, sizes and mtimes and of the backend. It is built in a temporary
folder and renamed into place, so a reader sees a whole export or none; a manifest of
SHA-256 digests, checked at every load, catches files damaged afterwards.

Kept over sentence-transformers' own ONNX backend (`backend="onnx"` plus
`export_dynamic_quantized_onnx_model`): on COVID-QA test sentences that path ran at 0.32-0.48x
this one's speed with the same dev hit@5 (docs/retrieval.md, "ONNX: our runtime or
sentence-transformers'"), and its optimum-onnx needs transformers < 4.58.

No prompt is prepended. HuggingFaceEmbedding adds one only for BGE and Instructor models,
which use CLS pooling or custom modules and are refused here, and it overrides a model's
saved prompts with empty ones; so the torch backend adds none for any model accepted here.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from llama_index.core.embeddings import BaseEmbedding
from pydantic import Field, PrivateAttr

from index.errors import PaperTrailError

__all__ = ["OnnxBackend", "OnnxEmbedding", "load_onnx_embedder"]

OnnxBackend = Literal["onnx", "onnx-int8"]

# Bump a backend's when its export or quantisation recipe changes, so older cached exports
# are not reused. int8 2: attention fused before quantising (_fused_for_int8).
_RECIPES: dict[OnnxBackend, int] = {"onnx": 1, "onnx-int8": 2}
_MODEL = "model.onnx"
_TOKENIZER = "tokenizer.json"
_MANIFEST = "manifest.json"
_OUTPUT = "sentence_embedding"
# Texts are sorted by token count and run in groups this size, so a short text is never
# padded to a long neighbour's length. Measured on 2 cores: 8 doubles the throughput of
# mixed-length batches over one padded batch of 32 and costs nothing on uniform chunks.
# int8 runs one text at a time: dynamic quantisation scales activations per tensor, so in a
# group a text's vector depended on its companions and padding (cosine to itself alone as
# low as 0.95), and an index's vectors on what else was ingested with it (issue #14).
# experiments/bench_micro_batch.py measures what that costs.
_MICRO_BATCH: dict[OnnxBackend, int] = {"onnx": 8, "onnx-int8": 1}
# Micro-batches run concurrently on one session, one ONNX Runtime thread each: a batch of
# short sentences is too small to split across cores efficiently. COVID-QA test sentences
# on 2 idle cores: 12.8-13.4 s against 15.8-18.3 s for one 2-thread run at a time.
_WORKERS = os.cpu_count() or 1
# Texts LlamaIndex hands over per call: the side-by-side runs wait for each other at the end
# of a call, so a call must hold many micro-batches. Whole ingest of COVID-QA test, one
# process, alternating: 15.9-16.1 s with 256 texts a call, 18.8-20.7 s with 32.
_HANDOVER = 256
# ONNX Runtime's fused SkipLayerNormalization kernel ran ~6x slower than the Add and
# LayerNormalization it replaces (8 sentences of 40 word pieces: 620 µs against 105 µs a
# call), 12 % of the int8 model's time; without the fusion sentences embed ~1.1x faster.
# The arithmetic is the same; int8 vectors move within quantisation noise (cosine to fp32
# unchanged, mean 0.9937), fp32 ones not at all.
_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


@dataclass(frozen=True)
class _Layout:
    """Where a sentence-transformers model keeps its transformer, and how it tokenises."""

    root: Path
    transformer_dir: Path
    max_seq_length: int
    do_lower_case: bool


class OnnxEmbedding(BaseEmbedding):
    """A LlamaIndex embedder that runs an exported model on ONNX Runtime.

    The graph itself mean-pools and L2-normalises, so vectors come out finished.
    """

    max_length: int = Field(description="Tokens kept per text; longer texts are truncated.")
    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _pad_id: int = PrivateAttr()
    _lowercase: bool = PrivateAttr()
    _input_names: frozenset[str] = PrivateAttr()
    _pool: ThreadPoolExecutor = PrivateAttr()
    _micro_batch: int = PrivateAttr()
    _workers: int = PrivateAttr()

    def __init__(
        self,
        *,
        export_dir: Path,
        model_name: str,
        max_length: int,
        lowercase: bool,
        embed_batch_size: int,
        micro_batch: int,
        workers: int = _WORKERS,
    ) -> None:
        super().__init__(
            model_name=model_name,
            # LlamaIndex's batch is only a hand-over here; the model runs micro-batches.
            embed_batch_size=max(embed_batch_size, _HANDOVER),
            max_length=max_length,
        )
        self._session = _open_session(export_dir / _MODEL)
        self._tokenizer, self._pad_id = _open_tokenizer(export_dir / _TOKENIZER, max_length)
        self._lowercase = lowercase
        self._input_names = frozenset(i.name for i in self._session.get_inputs())
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="papertrail-onnx")
        self._micro_batch = micro_batch
        self._workers = workers

    @classmethod
    def class_name(cls) -> str:
        return "PaperTrailOnnxEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._get_text_embeddings(texts)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        if self._lowercase:  # sentence-transformers' do_lower_case
            texts = [t.lower() for t in texts]
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        vectors: list[list[float]] = [[] for _ in encodings]
        size = self._micro_batch
        groups = [order[i : i + size] for i in range(0, len(order), size)]
        # One task per worker, each running every n-th group in turn (alike in length, as
        # groups are sorted): a task per group cost 3-5 % of the whole in hand-overs
        # (3,000 COVID-QA sentences, int8: 5.33-5.80 s against 5.19-5.48 s).
        shares = [groups[w :: self._workers] for w in range(self._workers)]
        runs = self._pool.map(
            self._run_all, [[[encodings[i] for i in g] for g in s] for s in shares]
        )
        for share, share_rows in zip(shares, runs, strict=True):
            for group, rows in zip(share, share_rows, strict=True):
                for i, row in zip(group, rows.tolist(), strict=True):
                    vectors[i] = row
        return vectors

    def _run_all(self, groups: list[list[Any]]) -> list[np.ndarray]:
        return [self._run(g) for g in groups]

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
            types[row, :n] = encoding.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        inputs = {name: array for name, array in feed.items() if name in self._input_names}
        return self._session.run([_OUTPUT], inputs)[0]


def load_onnx_embedder(
    model_dir: Path, *, backend: OnnxBackend, embed_batch_size: int, cache_dir: Path
) -> OnnxEmbedding:
    """Embedder for the sentence-transformers model in `model_dir`, exporting it on first use."""
    layout = _read_layout(model_dir)
    export_dir = _ensure_export(layout, backend, cache_dir)
    return OnnxEmbedding(
        export_dir=export_dir,
        model_name=str(model_dir),
        max_length=layout.max_seq_length,
        lowercase=layout.do_lower_case,
        embed_batch_size=embed_batch_size,
        micro_batch=_MICRO_BATCH[backend],
    )


# --- reading the sentence-transformers configuration -------------------------------------


def _read_layout(root: Path) -> _Layout:
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        # sentence-transformers wraps a plain Hugging Face model in Transformer + mean pooling.
        return _transformer_layout(root, root)
    modules = sorted(_read_json(modules_file), key=lambda m: m.get("idx", 0))
    kinds = [str(m.get("type", "?")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise PaperTrailError(
            f"{root}: the ONNX embedding backend runs Transformer → Pooling (→ Normalize) "
            f"models, not {' → '.join(kinds)}; use embed_backend 'torch' for this model"
        )
    _require_mean_pooling(root / modules[1].get("path", ""))
    return _transformer_layout(root, root / modules[0].get("path", ""))


def _require_mean_pooling(pooling_dir: Path) -> None:
    config = _read_json(pooling_dir / "config.json")
    if "pooling_mode" in config:
        modes = config["pooling_mode"]
    elif any(key in config for key in _LEGACY_POOLING_KEYS):
        modes = [mode for key, mode in _LEGACY_POOLING_KEYS.items() if config.get(key)]
    else:
        modes = "mean"  # sentence-transformers' default
    modes = [modes] if isinstance(modes, str) else list(modes)
    if modes != ["mean"]:
        raise PaperTrailError(
            f"{pooling_dir}: pooling mode {'+'.join(modes) or 'none'!r} is not supported by "
            "the ONNX embedding backend, only 'mean'; use embed_backend 'torch' for this model"
        )
    if config.get("include_prompt") is False:
        raise PaperTrailError(
            f"{pooling_dir}: pooling that excludes prompt tokens is not supported by the ONNX "
            "embedding backend; use embed_backend 'torch' for this model"
        )


def _transformer_layout(root: Path, transformer_dir: Path) -> _Layout:
    config = _read_json_if_present(transformer_dir / "sentence_bert_config.json")
    max_length = config.get("max_seq_length") or _tokenizer_limit(transformer_dir)
    return _Layout(
        root=root,
        transformer_dir=transformer_dir,
        max_seq_length=int(max_length),
        do_lower_case=bool(config.get("do_lower_case", False)),
    )


def _tokenizer_limit(transformer_dir: Path) -> int:
    """sentence-transformers' fallback: the tokenizer's limit, capped by the position table."""
    limits = [
        _read_json_if_present(transformer_dir / "tokenizer_config.json").get("model_max_length")
    ]
    positions = _read_json_if_present(transformer_dir / "config.json").get(
        "max_position_embeddings"
    )
    if positions != -1:  # -1 means unbounded (XLNet)
        limits.append(positions)
    known = [int(v) for v in limits if isinstance(v, int | float)]
    if not known:
        raise PaperTrailError(f"{transformer_dir}: cannot tell the model's maximum sequence length")
    return min(known)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PaperTrailError(f"{path}: unreadable sentence-transformers config ({exc})") from exc


def _read_json_if_present(path: Path) -> dict[str, Any]:
    return _read_json(path) if path.is_file() else {}


# --- the export cache ----------------------------------------------------------------------


def _ensure_export(layout: _Layout, backend: OnnxBackend, cache_dir: Path) -> Path:
    """The folder holding this model's export for `backend`, built if missing or damaged."""
    entry = cache_dir / _entry_name(layout, backend)
    if _is_intact(entry, backend):
        return entry
    _discard(entry)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=cache_dir))
    try:
        _build(layout, backend, staging, cache_dir)
        _write_manifest(staging, backend)
        _publish(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _is_intact(entry, backend):
        raise PaperTrailError(f"{entry}: the ONNX export is damaged right after exporting it")
    return entry


def _entry_name(layout: _Layout, backend: OnnxBackend) -> str:
    files = sorted(p for p in layout.transformer_dir.iterdir() if p.is_file())
    stamps = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    key = {
        "source": str(layout.transformer_dir.resolve()),
        "files": stamps,
        "backend": backend,
        "recipe": _RECIPES[backend],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return f"{layout.root.name}-{backend}-{digest}"


def _is_intact(entry: Path, backend: OnnxBackend) -> bool:
    try:
        manifest = json.loads((entry / _MANIFEST).read_text(encoding="utf-8"))
        digests = manifest["sha256"]
        return manifest["recipe"] == _RECIPES[backend] and all(
            _sha256(entry / name) == digest for name, digest in digests.items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_manifest(staging: Path, backend: OnnxBackend) -> None:
    digests = {name: _sha256(staging / name) for name in (_MODEL, _TOKENIZER)}
    manifest = {"recipe": _RECIPES[backend], "sha256": digests}
    (staging / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _discard(entry: Path) -> None:
    """Remove a damaged export; renamed away first so no reader sees it half-deleted."""
    trash = entry.with_name(f".trash-{entry.name}-{os.getpid()}")
    try:
        entry.rename(trash)
    except FileNotFoundError:
        return  # nothing there, or another process already removed it
    shutil.rmtree(trash, ignore_errors=True)


def _publish(staging: Path, entry: Path) -> None:
    try:
        staging.rename(entry)
    except OSError:
        if not entry.is_dir():
            raise
        # Another process published the same export first; ours is dropped by the caller.


# --- building an export --------------------------------------------------------------------


def _build(layout: _Layout, backend: OnnxBackend, staging: Path, cache_dir: Path) -> None:
    if backend == "onnx":
        _export(layout.transformer_dir, staging)
        return
    source = _ensure_export(layout, "onnx", cache_dir)
    fused = _fused_for_int8(layout.transformer_dir, source / _MODEL, staging / "fused.onnx")
    _quantize(fused, staging / _MODEL)
    if fused != source / _MODEL:
        fused.unlink()
    shutil.copy2(source / _TOKENIZER, staging / _TOKENIZER)


def _export(transformer_dir: Path, staging: Path) -> None:
    """Trace transformer + mean pooling + L2 norm to ONNX; save the tokenizer beside it."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(transformer_dir)
        # Eager attention traces to plain MatMul/Softmax ops with the padding mask applied.
        model = AutoModel.from_pretrained(transformer_dir, attn_implementation="eager").eval()
    except (OSError, ValueError) as exc:
        raise PaperTrailError(
            f"{transformer_dir}: cannot load the model to export it: {exc}"
        ) from exc
    names = _input_names(tokenizer, model)
    # A padded example, so the traced graph is the one that honours the attention mask.
    example = tokenizer(["a longer example text", "short"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow
        torch.onnx.export(
            _pooled(model, names),
            tuple(example[name] for name in names),
            str(staging / _MODEL),
            dynamo=False,
            opset_version=17,
            input_names=names,
            output_names=[_OUTPUT],
            dynamic_axes={**axes, _OUTPUT: {0: "batch"}},
        )
    backend = tokenizer.backend_tokenizer
    backend.enable_padding(
        pad_id=tokenizer.pad_token_id or 0, pad_token=tokenizer.pad_token or "[PAD]"
    )
    backend.save(str(staging / _TOKENIZER))


def _input_names(tokenizer: Any, model: Any) -> list[str]:
    accepted = inspect.signature(model.forward).parameters
    wanted = ["input_ids", "attention_mask", "token_type_ids"]
    return [n for n in wanted if n in accepted and n in tokenizer.model_input_names]


def _pooled(model: Any, names: list[str]) -> Any:
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            # Keyword arguments: transformers 5 reordered BertModel's positional parameters.
            features = dict(zip(names, inputs, strict=True))
            hidden = self.model(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return Pooled()


@contextmanager
def _quiet_logging() -> Iterator[None]:
    """ONNX Runtime's optimizer and quantiser log hints that do not apply to these graphs."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _fused_for_int8(transformer_dir: Path, source: Path, target: Path) -> Path:
    """A BERT export with each layer's attention fused into one op (quantised to QAttention)
    and bias + GELU into one; any other architecture is returned as it is.

    COVID-QA test sentences, one a run, int8: the unfused export's vectors bit for bit (400
    sentences; so no new pipeline_version) and about 5 % faster, most at short sentences
    (0.90 against 1.06 ms at 8 word pieces), where the unfused graph's ~250 small ops cost
    more than its arithmetic.
    Skip-layer-norm and embed-layer-norm fusions stay off: ORT's SkipLayerNormalization ran
    ~6x slower than what it replaces (_DISABLED_OPTIMIZERS).
    """
    config = _read_json_if_present(transformer_dir / "config.json")
    if config.get("model_type") != "bert":
        return source
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    options.enable_embed_layer_norm = False
    with _quiet_logging():
        model = optimize_model(
            str(source),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
            opt_level=1,
            optimization_options=options,
        )
    model.save_model_to_file(str(target))
    return target


def _quantize(source: Path, target: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales, and only weight MatMuls (not the embedding tables or the
    # attention-score MatMuls of two activations): measured min cosine to torch ≈ 0.99,
    # against ≈ 0.87 for quantize_dynamic's defaults, at the same speed.
    # It also logs a hint to run its pre-processing first, which fails on this graph.
    with _quiet_logging():
        quantize_dynamic(
            source,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            # The fused Attention op has no type in ONNX's shape inference: its outputs are
            # float, as everything else here.
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT},
        )


# --- loading an export ---------------------------------------------------------------------


def _open_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread per run; the cores are used by running micro-batches side by side (_WORKERS).
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        str(path),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=_DISABLED_OPTIMIZERS,
    )


def _open_tokenizer(path: Path, max_length: int) -> tuple[Any, int]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    pad_id = int((tokenizer.padding or {}).get("pad_id", 0))
    tokenizer.no_padding()  # each length-sorted group is padded on its own
    # Same limit as sentence-transformers; the count includes [CLS] and [SEP].
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer, pad_id
