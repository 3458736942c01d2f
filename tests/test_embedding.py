"""The ONNX embedding backends: torch's vectors, exported once, damaged exports rebuilt."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from tokenizers import Tokenizer

from index.embedding import load_embedder, resolve_model_path
from index.errors import PaperTrailError
from index.onnx_backend import OnnxEmbedding, load_onnx_embedder
from index.settings import Settings

MODEL_DIR = Path(resolve_model_path("all-MiniLM-L6-v2"))
COVID_QA = Path(__file__).parents[1] / "eval" / "datasets" / "covid-qa" / "covid-qa-200423.json"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Three dozen sentences, a 1,000-character chunk, and a text far past 256 tokens."""
    article = json.loads(COVID_QA.read_text())["data"][0]["paragraphs"][0]["context"]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", article) if 30 <= len(s) <= 300]
    return [*sentences[:36], article[5000:6000], article[:8000]]


@pytest.fixture(scope="module")
def xdg_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg")


@pytest.fixture(scope="module")
def cache_dir(xdg_cache: Path) -> Path:
    return xdg_cache / "papertrail" / "onnx"  # where _onnx_cache_dir() puts it


@pytest.fixture(scope="module")
def onnx_fp32(cache_dir: Path) -> OnnxEmbedding:
    return _load(cache_dir, "onnx")


@pytest.fixture(scope="module")
def torch_vectors(texts: list[str], tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    embedder = load_embedder(_settings(tmp_path_factory.mktemp("index"), "torch"))
    return np.array(embedder.get_text_embedding_batch(texts))


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every torch.onnx.export call made during the test."""
    calls: list[str] = []
    real = torch.onnx.export

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(args[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", counting)
    return calls


def _settings(index_dir: Path, backend: str) -> Settings:
    # model_copy skips validation: works before Settings has embed_backend, and lets a test
    # pass a backend the field's Literal would refuse.
    return Settings(index_dir=index_dir).model_copy(update={"embed_backend": backend})


def _load(cache_dir: Path, backend: str, model_dir: Path = MODEL_DIR) -> OnnxEmbedding:
    return load_onnx_embedder(model_dir, backend=backend, embed_batch_size=32, cache_dir=cache_dir)


def _file_stamps(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_vectors_match_torch_including_truncated_text(
    onnx_fp32: OnnxEmbedding, texts: list[str], torch_vectors: np.ndarray
) -> None:
    untruncated = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    untruncated.no_truncation()
    assert len(untruncated.encode(texts[-1]).ids) > 1000  # so truncation is exercised
    vectors = np.array(onnx_fp32.get_text_embedding_batch(texts))
    assert vectors.shape == torch_vectors.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _cosines(vectors, torch_vectors).min() >= 0.999


def test_query_vector_matches_torch(onnx_fp32: OnnxEmbedding, tmp_path: Path) -> None:
    question = "How long does the coronavirus survive on surfaces?"
    expected = load_embedder(_settings(tmp_path, "torch")).get_query_embedding(question)
    got = onnx_fp32.get_query_embedding(question)
    assert _cosines(np.array([got]), np.array([expected]))[0] >= 0.999


def test_batch_keeps_input_order_across_mixed_lengths(
    onnx_fp32: OnnxEmbedding, texts: list[str]
) -> None:
    mixed = [texts[-1], "", *texts[:8], texts[-2], *texts[8:16]]  # long, empty, short, long...
    batch = np.array(onnx_fp32.get_text_embedding_batch(mixed))
    one_by_one = np.array([onnx_fp32.get_text_embedding(t) for t in mixed])
    assert _cosines(batch, one_by_one).min() >= 0.9999


def test_int8_vectors_stay_close_to_torch(
    cache_dir: Path, texts: list[str], torch_vectors: np.ndarray
) -> None:
    cosines = _cosines(
        np.array(_load(cache_dir, "onnx-int8").get_text_embedding_batch(texts)), torch_vectors
    )
    assert cosines.min() >= 0.97
    assert cosines.mean() >= 0.985


def test_int8_vector_is_the_same_alone_and_among_texts_of_other_lengths(
    cache_dir: Path, texts: list[str]
) -> None:
    """A text's vector must not depend on what is embedded with it (issue #14)."""
    int8 = _load(cache_dir, "onnx-int8")
    mixed = [texts[-1], *texts[:20], texts[-2]]  # a long text, short ones, a chunk
    batch = np.array(int8.get_text_embedding_batch(mixed))
    alone = np.array([int8.get_text_embedding(t) for t in mixed])
    assert _cosines(batch, alone).min() >= 0.99999


def test_second_load_reuses_the_export(
    onnx_fp32: OnnxEmbedding, cache_dir: Path, texts: list[str], exports: list[str]
) -> None:
    before = _file_stamps(cache_dir)
    again = _load(cache_dir, "onnx")
    assert exports == []
    assert _file_stamps(cache_dir) == before
    assert not [p.name for p in cache_dir.iterdir() if p.name.startswith(".")]  # no leftovers
    assert again.get_text_embedding_batch(texts[:3]) == onnx_fp32.get_text_embedding_batch(
        texts[:3]
    )


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_weights(path: Path) -> None:
    """Still a loadable model, with different numbers in the middle of the weights."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(b ^ 0x55 for b in data[middle : middle + 4096])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _flip_weights], ids=["truncated", "flipped"])
def test_damaged_export_is_rebuilt_not_trusted(
    onnx_fp32: OnnxEmbedding,
    cache_dir: Path,
    tmp_path: Path,
    texts: list[str],
    torch_vectors: np.ndarray,
    exports: list[str],
    damage: Callable[[Path], None],
) -> None:
    damaged = tmp_path / "cache"
    shutil.copytree(cache_dir, damaged)
    for model in damaged.glob("*/model.onnx"):
        damage(model)
    vectors = np.array(_load(damaged, "onnx").get_text_embedding_batch(texts))
    assert len(exports) == 1
    assert _cosines(vectors, torch_vectors).min() >= 0.999


def test_load_embedder_picks_the_onnx_backend_from_settings(
    onnx_fp32: OnnxEmbedding,
    xdg_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    exports: list[str],
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg_cache))
    embedder = load_embedder(_settings(tmp_path, "onnx"))
    assert isinstance(embedder, OnnxEmbedding)
    assert exports == []  # found the export made by the fixture, in the user cache
    assert len(embedder.get_query_embedding("stem cells")) == 384


def test_unknown_backend_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PaperTrailError, match="unknown embed_backend 'tensorrt'"):
        load_embedder(_settings(tmp_path, "tensorrt"))


_TRANSFORMER = {
    "idx": 0,
    "name": "0",
    "path": "",
    "type": "sentence_transformers.models.Transformer",
}
_POOLING = {
    "idx": 1,
    "name": "1",
    "path": "1_Pooling",
    "type": "sentence_transformers.models.Pooling",
}
_DENSE = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}


@pytest.mark.parametrize(
    ("modules", "pooling", "message"),
    [
        ([_TRANSFORMER, _POOLING], {"pooling_mode_cls_token": True}, "pooling mode 'cls'"),
        ([_TRANSFORMER, _POOLING], {"pooling_mode": "lasttoken"}, "pooling mode 'lasttoken'"),
        (
            [_TRANSFORMER, _POOLING],
            {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True},
            "pooling mode 'max\\+mean'",
        ),
        (
            [_TRANSFORMER, _POOLING],
            {"pooling_mode": "mean", "include_prompt": False},
            "excludes prompt tokens",
        ),
        (
            [_TRANSFORMER, _POOLING, _DENSE],
            {"pooling_mode": "mean"},
            "not Transformer → Pooling → Dense",
        ),
    ],
    ids=["cls", "lasttoken", "mean-and-max", "prompt-excluded", "dense-layer"],
)
def test_models_other_than_mean_pooling_are_refused(
    tmp_path: Path, modules: list[dict[str, object]], pooling: dict[str, object], message: str
) -> None:
    model = tmp_path / "fake-model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "modules.json").write_text(json.dumps(modules))
    (model / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(PaperTrailError, match=f"{message}.*use embed_backend 'torch'"):
        _load(tmp_path / "cache", "onnx", model_dir=model)
    assert not (tmp_path / "cache").exists()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_micro_batches_run_side_by_side_on_every_core(
    onnx_fp32: OnnxEmbedding, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[int] = set()
    run = OnnxEmbedding._run

    def recording_run(self: OnnxEmbedding, encodings: list[Any]) -> np.ndarray:
        threads.add(threading.get_ident())
        time.sleep(0.05)  # long enough that one worker cannot take every micro-batch
        return run(self, encodings)

    monkeypatch.setattr(OnnxEmbedding, "_run", recording_run)
    onnx_fp32.get_text_embedding_batch(texts[:32])
    assert onnx_fp32._session.get_session_options().intra_op_num_threads == 1
    assert len(threads) == min(os.cpu_count() or 1, 4)  # 32 texts: four micro-batches


def test_layer_norms_run_unfused_in_the_int8_model(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime's SkipLayerNormalization kernel is much slower than Add + LayerNorm."""
    optimised = tmp_path / "optimised.onnx"
    real = onnxruntime.SessionOptions

    def saving_options() -> onnxruntime.SessionOptions:
        options = real()
        options.optimized_model_filepath = str(optimised)  # the graph ORT actually runs
        return options

    monkeypatch.setattr(onnxruntime, "SessionOptions", saving_options)
    _load(cache_dir, "onnx-int8")
    ops = {node.op_type for node in onnx.load(str(optimised)).graph.node}
    assert "LayerNormalization" in ops
    assert "SkipLayerNormalization" not in ops


def test_int8_model_fuses_attention_and_keeps_the_unfused_vectors(
    cache_dir: Path, tmp_path: Path, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fused = _load(cache_dir, "onnx-int8")
    entry = next(p for p in cache_dir.iterdir() if "-onnx-int8-" in p.name)
    ops = {node.op_type for node in onnx.load(str(entry / "model.onnx")).graph.node}
    assert "QAttention" in ops
    # The previous recipe, built from the same fp32 export (copied, not traced again).
    unfused_cache = tmp_path / "unfused"
    unfused_cache.mkdir()
    for fp32 in (p for p in cache_dir.iterdir() if "-onnx-" in p.name and "int8" not in p.name):
        shutil.copytree(fp32, unfused_cache / fp32.name)
    monkeypatch.setattr("index.onnx_backend._fused_for_int8", lambda _dir, source, _target: source)
    unfused = _load(unfused_cache, "onnx-int8")
    cosines = _cosines(
        np.array(fused.get_text_embedding_batch(texts)),
        np.array(unfused.get_text_embedding_batch(texts)),
    )
    assert cosines.min() >= 0.99999
