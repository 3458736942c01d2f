"""The search cache in segments: work in proportion to what changed, scores as one index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from index import search as search_module
from index.keyword import index_terms, terms, with_bigrams
from index.store import Store
from rag import Engine, Settings

NOTES = {
    "otter.txt": "Sea otters use stones as tools to open shellfish on their chests.",
    "beaver.txt": "Beavers build dams of branches and mud; the dams raise the water level.",
    "heron.txt": "Herons stand still in shallow water and spear fish with their beaks.",
    "salmon.txt": "Salmon return to the river of their birth to spawn, swimming past dams.",
}


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _segments(settings: Settings) -> dict[str, set[str]]:
    cache = settings.index_dir / "cache" / settings.collection
    return {
        p.parent.name: set(json.loads(p.read_text())["docs"])
        for p in cache.glob("seg-*/manifest.json")
    }


def _keyword(engine: Engine, query: str) -> dict[str, float]:
    engine.search.refresh()
    return {
        engine.search.chunk(row).chunk_id: round(score, 4)
        for row, score in engine.search.keyword(query, 20)
    }


def _ranked(engine: Engine, question: str) -> list[tuple[str, float]]:
    return [(p.chunk_id, round(p.score, 4)) for p in engine.retrieve(question, k=4)]


def test_adding_a_document_derives_only_that_document(engine: Engine, tmp_path: Path) -> None:
    engine.ingest([_write(tmp_path, n, NOTES[n]) for n in ("otter.txt", "beaver.txt")])
    before = _segments(engine.settings)
    engine.ingest([_write(tmp_path, "heron.txt", NOTES["heron.txt"])])
    after = _segments(engine.settings)
    assert before.items() <= after.items()  # nothing already on disk was rewritten
    assert [docs for name, docs in after.items() if name not in before] == [{"heron.txt"}]


def test_opening_an_index_reads_no_chunks_back_from_chroma(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.ingest([_write(tmp_path, n, t) for n, t in NOTES.items()])

    def refuse(*_: object) -> None:
        raise AssertionError("derived again what was on disk")

    monkeypatch.setattr(Store, "parts", refuse)
    fresh = Engine.open(settings)
    assert [p.doc_id for p in fresh.retrieve("otters open shellfish with stones", k=1)] == [
        "otter.txt"
    ]


def test_keyword_scores_across_segments_equal_one_bm25s_index(
    engine: Engine, tmp_path: Path
) -> None:
    import bm25s

    for name, text in NOTES.items():  # one segment each
        engine.ingest([_write(tmp_path, name, text)])
    engine.ingest([_write(tmp_path, "beaver.txt", "Beavers fell trees with their teeth.")])
    engine.remove("heron.txt")
    query = "dams built by beavers in the river water"
    got = _keyword(engine, query)

    ids, texts, metas = engine.store.all_chunks()
    reference = bm25s.BM25()
    reference.index(
        [with_bigrams(terms(f"{m['title']}\n{t}")) for t, m in zip(texts, metas, strict=True)],
        show_progress=False,
    )
    asked = [t for t in index_terms(query) if t in reference.vocab_dict]
    expected = reference.get_scores(asked)
    assert got == {i: round(float(s), 4) for i, s in zip(ids, expected, strict=True) if s > 0}
    assert "heron.txt" not in {i.split("#")[0] for i in got}


def test_many_small_segments_merge_without_changing_results(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "_MAX_SEGMENTS", 2)
    engine = Engine.open(settings)
    for name, text in NOTES.items():
        engine.ingest([_write(tmp_path, name, text)])
    assert len(_segments(settings)) <= 3
    merged = _keyword(engine, "water dams fish")
    merged_dense = _ranked(engine, "Which animals build dams?")

    shutil.rmtree(settings.index_dir / "cache")
    fresh = Engine.open(settings)  # one segment derived from Chroma at once
    assert _keyword(fresh, "water dams fish") == merged
    assert _ranked(fresh, "Which animals build dams?") == merged_dense


def test_replaced_document_is_found_only_in_its_new_version(engine: Engine, tmp_path: Path) -> None:
    engine.ingest([_write(tmp_path, "otter.txt", NOTES["otter.txt"])])
    engine.ingest([_write(tmp_path, "otter.txt", "Otters sleep holding paws in kelp forests.")])
    assert _keyword(engine, "shellfish stones") == {}
    (passage,) = engine.retrieve("Where do otters sleep?", k=1)
    sentences = engine.search.sentences("otter.txt", passage.start, passage.end)
    assert [s.text for s, _ in sentences] == ["Otters sleep holding paws in kelp forests."]
    assert all(np.isfinite(v).all() for _, v in sentences)
