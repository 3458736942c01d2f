"""A large ingest goes through in batches: each stored and searchable before the next is read,
and duplicates found against everything before, at any size."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import index.indexer
from index.duplicates import SignatureIndex, best_match, signature
from index.library import WorkIndex, same_work
from index.models import Creator, DocumentMetadata
from rag import Engine

_TOPICS = ("otters", "glaciers", "ribosomes", "volcanoes", "lichens")


def _note(topic: str, seed: int) -> str:
    rng = random.Random(seed)
    words = [f"{topic}{rng.randrange(400)}" for _ in range(120)]
    return f"Notes on {topic}.\n" + " ".join(words) + "."


def _notes(folder: Path) -> list[Path]:
    paths = []
    for i, topic in enumerate(_TOPICS):
        path = folder / f"{topic}.txt"
        path.write_text(_note(topic, i))
        paths.append(path)
    return paths


def test_a_batched_ingest_stores_every_file_and_finds_duplicates_across_batches(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.indexer, "_BATCH_FILES", 2)
    files = _notes(tmp_path)
    copy = tmp_path / "otters-again.txt"  # in the third batch, the first file's text
    copy.write_text(files[0].read_text())
    files.append(copy)
    heard: list[tuple[int, int]] = []
    seen_after: list[int] = []

    def on_batch(done: int, total: int) -> None:
        heard.append((done, total))
        seen_after.append(len(engine.store.documents()))

    report = engine._indexer.ingest(files, on_batch=on_batch)
    assert report.ok
    assert heard == [(2, 6), (4, 6), (6, 6)]
    assert seen_after == [2, 4, 6]  # each batch stored before the next is read
    assert report.files[-1].duplicate_of == "otters.txt"
    assert report.embedded_chunks == sum(f.chunks for f in report.files)


def test_engine_ingest_in_batches_answers_from_every_batch(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.indexer, "_BATCH_FILES", 2)
    files = _notes(tmp_path)
    assert engine.ingest(files).ok
    for topic in _TOPICS:
        (hit,) = engine.retrieve(f"{topic}7 {topic}11 {topic}19", 1)
        assert hit.doc_id == f"{topic}.txt"


def test_signature_index_finds_what_best_match_finds() -> None:
    rng = random.Random(3)
    texts = [" ".join(f"w{rng.randrange(900)}" for _ in range(400)) for _ in range(30)]
    texts.append(texts[4])  # an exact copy
    words = texts[7].split()
    texts.append(" ".join(w + "x" if i % 150 == 0 else w for i, w in enumerate(words)))
    texts.append("")
    sigs = [(f"d{i}", signature(t)) for i, t in enumerate(texts)]
    index = SignatureIndex(sigs)
    for doc_id, sig in sigs:
        others = [(d, s) for d, s in sigs if d != doc_id]
        assert index.best_match(sig, skip=doc_id) == best_match(sig, others)
    assert index.best_match(sigs[4][1], skip="d4") == ("d30", 1.0)
    index.add("d30", signature(texts[1]))  # replaced: no longer a copy of d4
    assert index.best_match(sigs[4][1], skip="d4") is None


def test_work_index_finds_the_first_document_same_work_finds() -> None:
    def meta(title: str, family: str, year: int | None, doi: str | None = None):
        return DocumentMetadata(
            title=title, creators=[Creator(family=family, given="A")], year=year, doi=doi
        )

    docs = [
        ("a", meta("Otters and tools", "Hall", 2010), None),
        ("b", meta("Otters  and Tools!", "hall", 2010, "10.1/X"), None),
        ("c", meta("Otters and tools", "Hall", 2011), None),
        ("d", meta("Something else", "Berg", 2010, "10.1/x"), "b"),
        ("e", meta("Otters and tools", "Hall", 2010, "10.2/y"), None),
        ("f", None, None),
    ]
    works = WorkIndex()
    for doc_id, m, dup in docs:
        works.add(doc_id, m, dup)
    queries = [m for _, m, _ in docs] + [meta("otters AND tools", "HALL", 2010), None]
    for q in queries:
        for skip in ("a", "b", "zz"):
            expected = next(
                (
                    (dup or d) if (dup or d) != skip else None
                    for d, m, dup in docs
                    if d != skip and same_work(q, m)
                ),
                None,
            )
            assert works.first_same(skip, q) == expected, (q, skip)


def test_progress_is_told_across_batches_and_ends_at_its_total(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.indexer, "_BATCH_FILES", 2)
    files = _notes(tmp_path)
    told: list[tuple[int, int]] = []
    report = engine.ingest(files, on_progress=lambda done, total: told.append((done, total)))
    dones = [d for d, _ in told]
    assert dones == sorted(dones) and len(told) >= 3  # never back to 0 for a new batch
    assert told[-1] == (report.embedded_chunks, report.embedded_chunks)
