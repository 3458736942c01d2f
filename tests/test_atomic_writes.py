"""Nothing hidden: a write is seen whole or not at all, and leftovers are found and cleared.

These are plumbing tests, so a constant embedder stands in for the model; the keyword side
of retrieval finds the passages.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.embeddings import MockEmbedding

from index.chunking import chunk_document
from index.indexer import Indexer
from index.models import Document
from index.sentences import split_sentences
from index.settings import ChunkingSettings
from index.store import DocumentWrite, open_store
from rag import Engine, Settings

V1 = "Walruses haul out on sea ice to rest between dives. " * 30
V2 = "Walruses find clams with their sensitive whiskers on the sea floor. " * 30
OTHER = "Puffins carry many small fish crosswise in their beaks at once. " * 30


def _engine(settings: Settings) -> Engine:
    return Engine(settings, store=open_store(settings), embedder=MockEmbedding(embed_dim=4))


@pytest.fixture
def small_chunks(tmp_path: Path) -> Settings:
    return Settings(
        index_dir=tmp_path / "index", chunking=ChunkingSettings(chunk_size=200, chunk_overlap=0)
    )


def test_a_document_over_chromas_batch_limit_is_written_in_batches(
    small_chunks: Settings, tmp_path: Path
) -> None:
    store = open_store(small_chunks)
    limit = store._client.get_max_batch_size()
    big = tmp_path / "big.txt"
    big.write_text("Krill swarms colour the water red in spring. " * (limit * 5))
    report = Indexer(small_chunks, store=store, embedder=MockEmbedding(embed_dim=4)).ingest([big])
    assert report.ok, report.failed
    assert report.files[0].chunks > limit
    assert report.stored_chunks == report.files[0].chunks == store.chunks.count()


def test_the_summary_counts_only_chunks_that_were_stored(
    small_chunks: Settings, tmp_path: Path
) -> None:
    store = open_store(small_chunks)
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(OTHER)
    bad.write_text(V1)
    original = store._write

    def failing(writes, *args, **kwargs):  # the store refuses one document
        if any(w.document.doc_id == "bad.txt" for w in writes):
            raise ValueError("Batch size of 6889 is greater than max batch size of 5461")
        return original(writes, *args, **kwargs)

    store._write = failing  # type: ignore[method-assign]
    report = Indexer(small_chunks, store=store, embedder=MockEmbedding(embed_dim=4)).ingest(
        [good, bad]
    )
    assert [f.status for f in report.files] == ["indexed", "failed"]
    assert "bad.txt" in (report.files[1].error or "")
    assert report.stored_chunks == report.files[0].chunks == store.chunks.count()
    assert report.embedded_chunks > report.stored_chunks


def _write(store, settings: Settings, doc_id: str, text: str) -> DocumentWrite:
    doc = Document(doc_id=doc_id, title=doc_id, source=doc_id, content_hash=text, text=text)
    chunks = chunk_document(doc, settings.chunking)
    sentences = split_sentences(text)
    return DocumentWrite(
        doc, chunks, [[1.0, 0, 0, 0]] * len(chunks), sentences, np.ones((len(sentences), 4))
    )


def test_remove_and_doctor_clear_records_of_a_document_with_no_registry_entry(
    small_chunks: Settings,
) -> None:
    store = open_store(small_chunks)
    store.replace_many([_write(store, small_chunks, "orphan", V1)])
    store.replace_many([_write(store, small_chunks, "kept", OTHER)])
    store.registry.delete(ids=["orphan"])  # what the batch-size failure used to leave
    engine = _engine(small_chunks)
    assert all(p.doc_id == "kept" for p in engine.retrieve("walruses sea ice", k=5))
    report = store.doctor(repair=False)
    assert report.orphaned_documents == ["orphan"] and report.orphaned_chunks > 0
    assert store.remove("orphan") is True  # clears what no registry entry names
    assert store.doctor().orphaned_documents == []
    store.replace_many([_write(store, small_chunks, "orphan2", V2)])
    store.registry.delete(ids=["orphan2"])
    cleared = store.doctor()
    assert cleared.orphaned_documents == ["orphan2"] and cleared.repaired
    assert store.doctor().orphaned_documents == []
    assert {m["doc_id"] for m in store.all_chunks()[2]} == {"kept"}
    assert store.chunks.count() == len(store.all_chunks()[0])


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from chromadb.api.models.Collection import Collection
    from llama_index.core.embeddings import MockEmbedding
    from index.indexer import Indexer
    from index.settings import ChunkingSettings, Settings

    kill_at, index_dir, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    chunking = ChunkingSettings(chunk_size=200, chunk_overlap=0)
    settings = Settings(index_dir=index_dir, chunking=chunking)
    indexer = Indexer(settings, embedder=MockEmbedding(embed_dim=4))
    indexer.store._batch = 7  # several chunk batches per document
    calls = 0

    def killing(name):
        original = getattr(Collection, name)
        def call(self, *args, **kwargs):
            global calls
            out = original(self, *args, **kwargs)
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        setattr(Collection, name, call)

    for name in ("add", "upsert", "update", "delete", "modify"):
        killing(name)
    indexer.ingest(paths)
    print(calls)
    """
)


def _ingest_killed(kill_at: int, index_dir: Path, paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _KILLER, str(kill_at), str(index_dir), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )


def test_list_ask_and_remove_agree_after_an_ingest_killed_at_any_write(
    small_chunks: Settings, tmp_path: Path
) -> None:
    walrus, puffin = tmp_path / "walrus.txt", tmp_path / "puffin.txt"
    walrus.write_text(V1)
    _engine(small_chunks).ingest([walrus])
    template = tmp_path / "template"
    shutil.copytree(small_chunks.index_dir, template)
    walrus.write_text(V2)  # a changed version replaces the first: the riskier write
    puffin.write_text(OTHER)

    full = _ingest_killed(10**9, tmp_path / "whole", [walrus, puffin])
    assert full.returncode == 0, full.stderr
    writes = int(full.stdout.split()[-1])
    assert writes >= 8
    for kill_at in range(1, writes + 1):
        # A fresh folder each time: Chroma keeps one client per path in this process.
        settings = small_chunks.model_copy(update={"index_dir": tmp_path / f"killed-{kill_at}"})
        shutil.copytree(template, settings.index_dir)
        killed = _ingest_killed(kill_at, settings.index_dir, [walrus, puffin])
        assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stderr)
        _check_agreement(settings, kill_at)


def _check_agreement(settings: Settings, kill_at: int) -> None:
    engine = _engine(settings)  # opening clears what the killed writer left
    listed = {d.doc_id for d in engine.documents()}
    assert "walrus.txt" in listed, kill_at  # the first version is never lost
    walrus = engine.document("walrus.txt")
    assert walrus is not None
    version = "whiskers" if "whiskers" in walrus.text else "sea ice"
    hits = engine.retrieve("walruses whiskers sea ice puffins fish beaks", k=50)
    assert {p.doc_id for p in hits} == listed, kill_at
    for p in hits:
        if p.doc_id == "walrus.txt":
            assert version in p.text, (kill_at, p.text)
    assert engine.store.doctor(repair=False).orphaned_documents == [], kill_at
    assert engine.store.remove("puffin.txt") is ("puffin.txt" in listed), kill_at
    assert engine.store.remove("walrus.txt") is True
    assert engine.retrieve("walruses whiskers sea ice puffins", k=50) == []
    assert engine.store.chunks.count() == 0 and engine.store.sentences.count() == 0, kill_at


def test_two_ingests_at_once_both_land_and_leave_nothing_behind(
    small_chunks: Settings, tmp_path: Path
) -> None:
    walrus, puffin = tmp_path / "walrus.txt", tmp_path / "puffin.txt"
    walrus.write_text(V1)
    puffin.write_text(OTHER)
    _engine(small_chunks).documents()  # create the collections before the race
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _KILLER, str(10**9), str(small_chunks.index_dir), str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for path in (walrus, puffin, walrus)  # the same file twice, too
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    engine = _engine(small_chunks)
    assert sorted(d.doc_id for d in engine.documents()) == ["puffin.txt", "walrus.txt"]
    assert engine.store.doctor(repair=False).orphaned_documents == []
    chunks = {d.doc_id: d.chunks for d in engine.documents()}
    assert engine.store.chunks.count() == sum(chunks.values())
