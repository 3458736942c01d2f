"""Chroma is the source of truth: identity checks, derived search cache, server mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.embedding import resolve_model_path
from index.settings import BUNDLED_CORPUS, ChunkingSettings
from rag import Engine, IndexMismatchError, PaperTrailError, Settings


def test_opening_an_index_with_other_chunking_is_a_clear_error(
    engine: Engine, tmp_path: Path
) -> None:
    note = tmp_path / "n.txt"
    note.write_text("Sea urchins have tube feet.")
    engine.ingest([note])
    other = engine.settings.model_copy(
        update={"chunking": ChunkingSettings(chunk_size=500, chunk_overlap=50)}
    )
    with pytest.raises(IndexMismatchError, match="chunk_size: index has 1000, settings ask 500"):
        Engine.open(other)


def test_a_model_retrained_in_place_is_not_mistaken_for_the_indexed_one(
    settings: Settings, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), model)
    local = settings.model_copy(update={"embed_model": str(model), "embed_backend": "torch"})
    note = tmp_path / "n.txt"
    note.write_text("Sea urchins have tube feet.")
    Engine.open(local).ingest([note])
    Engine.open(local)  # same weights: the index opens
    with (model / "model.safetensors").open("ab") as weights:
        weights.write(b"\0")  # stands in for new weights at the same path
    with pytest.raises(IndexMismatchError, match="embed_weights: index has"):
        Engine.open(local)


def test_search_cache_follows_writes_from_another_process(
    settings: Settings, tmp_path: Path
) -> None:
    reader = Engine.open(settings)
    writer = Engine.open(settings)  # stands in for a second process on the same store
    assert reader.retrieve("narwhal tusk sensory organ", k=3) == []
    note = tmp_path / "narwhal.txt"
    note.write_text("The narwhal tusk is a sensory organ with millions of nerve endings.")
    writer.ingest([note])
    assert _keyword_docs(reader, "narwhal tusk") == ["narwhal.txt"]
    assert [p.doc_id for p in reader.retrieve("narwhal tusk", k=3)] == ["narwhal.txt"]


def test_the_document_listing_follows_writes_from_another_process(
    settings: Settings, tmp_path: Path
) -> None:
    reader, writer = Engine.open(settings), Engine.open(settings)
    notes = []
    for name in ("a.txt", "b.txt"):
        notes.append(tmp_path / name)
        notes[-1].write_text("Sea urchins graze kelp forests. Urchins have tube feet. " * 5)
    writer.ingest(notes[:1])
    assert [d.doc_id for d in reader.documents()] == ["a.txt"]
    assert reader.store.generations().keys() == {"a.txt"}
    writer.ingest(notes[1:])  # a copy of a.txt
    listed = {d.doc_id: d for d in reader.documents()}
    assert listed["b.txt"].duplicate_of == "a.txt" and not listed["b.txt"].preferred
    writer.prefer("b.txt")
    assert {d.doc_id for d in reader.documents() if d.preferred} == {"b.txt"}
    writer.remove("a.txt")
    assert [d.doc_id for d in reader.documents()] == ["b.txt"]
    assert reader.store.generations().keys() == {"b.txt"}


def test_broken_search_cache_is_rebuilt_not_trusted(settings: Settings, tmp_path: Path) -> None:
    engine = Engine.open(settings)
    note = tmp_path / "gecko.txt"
    note.write_text("Gecko feet stick to walls through van der Waals forces.")
    engine.ingest([note])
    assert _keyword_docs(engine, "gecko feet") == ["gecko.txt"]
    cache = settings.index_dir / "cache" / settings.collection
    broken = [f for f in cache.rglob("*") if f.is_file()]
    assert broken
    for f in broken:
        f.write_bytes(b"garbage")
    fresh = Engine.open(settings)
    assert _keyword_docs(fresh, "gecko feet") == ["gecko.txt"]
    assert fresh.ask("How do geckos stick to walls?").citations


def test_search_cache_derived_by_older_code_is_rebuilt(settings: Settings, tmp_path: Path) -> None:
    engine = Engine.open(settings)
    note = tmp_path / "axolotl.txt"
    note.write_text("Axolotl limbs regrow after amputation.")
    engine.ingest([note])
    engine.search.refresh()
    cache = settings.index_dir / "cache" / settings.collection
    meta_path = next(cache.glob("seg-*/manifest.json"))
    meta = json.loads(meta_path.read_text())
    stale = {k: v for k, v in meta.items() if k != "format"}  # as the first cache layout had
    meta_path.write_text(json.dumps(stale))
    assert _keyword_docs(Engine.open(settings), "axolotl limbs") == ["axolotl.txt"]
    meta_path = next(cache.glob("seg-*/manifest.json"))
    assert json.loads(meta_path.read_text())["format"] == meta["format"]  # rewritten


def _keyword_docs(engine: Engine, query: str) -> list[str]:
    engine.search.refresh()  # what every question does first
    return [
        engine.search.chunk(row).metadata["doc_id"] for row, _ in engine.search.keyword(query, 5)
    ]


def test_ingest_and_answer_through_a_chroma_server(chroma_server, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "cache", chroma_url=chroma_server.url)
    engine = Engine.open(settings)
    assert engine.ingest([BUNDLED_CORPUS]).ok
    answer = engine.ask("Where are MSCs obtained from?")
    assert not answer.abstained and "bone marrow" in answer.answer
    # Nothing but the keyword cache lives locally: the data is on the server.
    assert not (tmp_path / "cache" / "chroma").exists()
    again = Engine.open(settings)
    assert [d.doc_id for d in again.documents()] == [BUNDLED_CORPUS.name]


def test_sentences_round_trip_as_float16_and_leave_with_their_document(settings: Settings) -> None:
    import numpy as np

    from index.models import Document
    from index.sentences import split_sentences
    from index.store import open_store

    store = open_store(settings)
    texts = {"a": "Sea urchins have tube feet. They graze on kelp.", "b": "Corals host algae."}
    rng = np.random.default_rng(7)
    written = {}
    for doc_id, text in texts.items():
        doc = Document(doc_id=doc_id, title=doc_id, source=doc_id, content_hash=doc_id, text=text)
        sentences = split_sentences(text)
        written[doc_id] = rng.standard_normal((len(sentences), 5)).astype(np.float32)
        store.replace(doc, [], [], sentences, written[doc_id])
    metas, vectors = store.all_sentences()
    got = {
        (m["doc_id"], m["start"]): (m["text"], row) for m, row in zip(metas, vectors, strict=True)
    }
    assert got[("a", 28)][0] == "They graze on kelp."
    for doc_id, text in texts.items():
        for s, row in zip(split_sentences(text), written[doc_id], strict=True):
            assert got[(doc_id, s.start)][0] == s.text
            # stored as float16: exactly the rounded vector, read back as float32
            rounded = row.astype(np.float16).astype(np.float32)
            assert got[(doc_id, s.start)][1].tobytes() == rounded.tobytes()
    store.remove("a")
    assert {m["doc_id"] for m in store.all_sentences()[0]} == {"b"}


def test_a_write_cut_short_before_the_registry_is_still_replaced_cleanly(
    settings: Settings,
) -> None:
    import numpy as np

    from index.chunking import chunk_document
    from index.models import Document
    from index.sentences import split_sentences
    from index.store import open_store

    store = open_store(settings)

    def write(text: str, content_hash: str) -> int:
        doc = Document(doc_id="u", title="u", source="u", content_hash=content_hash, text=text)
        chunks = chunk_document(doc, settings.chunking)
        sentences = split_sentences(text)
        vectors = np.ones((len(sentences), 2))
        store.replace(doc, chunks, [[1.0, 0.0]] * len(chunks), sentences, vectors)
        return len(chunks)

    write("Sea urchins have tube feet. " * 80, "h1")
    store.registry.delete(ids=["u"])  # as if the process died before its last write
    assert store.content_hash("u") is None
    n = write("Corals host algae. " * 10, "h2")
    assert store.chunks.count() == n  # the first version's chunks are gone
    assert len(store.all_sentences()[0]) == 10


def test_a_batch_write_lands_every_document_but_the_one_that_fails(settings: Settings) -> None:
    import numpy as np

    from index.chunking import chunk_document
    from index.models import Document
    from index.sentences import split_sentences
    from index.store import DocumentWrite, open_store

    store = open_store(settings)

    def write(doc_id: str, text: str, dims: int = 2) -> DocumentWrite:
        doc = Document(doc_id=doc_id, title=doc_id, source=doc_id, content_hash=text, text=text)
        chunks = chunk_document(doc, settings.chunking)
        sentences = split_sentences(text)
        vectors = np.ones((len(sentences), 2))
        chunk_vectors = [[1.0] + [0.0] * (dims - 1)] * len(chunks)
        return DocumentWrite(doc, chunks, chunk_vectors, sentences, vectors)

    store.replace_many([write("old", "Kelp grows fast.")])
    batch = [write(f"d{i}", f"Urchin number {i} grazes kelp.") for i in range(5)]
    batch.insert(2, write("bad", "A vector of the wrong size.", dims=3))
    batch.append(write("old", "Kelp grows fast, and again."))  # replaces the earlier version
    failures = store.replace_many(batch)
    assert list(failures) == ["bad"]
    assert "dimension" in str(failures["bad"]).lower()
    landed = {d.doc_id for d in store.documents()}
    assert landed == {"old", "d0", "d1", "d2", "d3", "d4"}
    assert store.chunks.count() == 6  # one chunk each; "old" was replaced, not added to
    replaced = store.document("old")
    assert replaced is not None and "again" in replaced.text


def test_a_lost_chroma_server_is_named_and_the_engine_recovers(chroma_server, tmp_path: Path):
    settings = Settings(index_dir=tmp_path / "cache", chroma_url=chroma_server.url)
    engine = Engine.open(settings)
    assert engine.ingest([BUNDLED_CORPUS]).ok
    chroma_server.stop()
    for call in (engine.documents, lambda: engine.ask("Where are MSCs obtained from?")):
        with pytest.raises(
            PaperTrailError, match=f"cannot reach the Chroma server at {chroma_server.url}"
        ):
            call()
    with pytest.raises(PaperTrailError, match="cannot reach the Chroma server"):
        Engine.open(settings)
    chroma_server.start()
    assert [d.doc_id for d in engine.documents()] == [BUNDLED_CORPUS.name]
    assert not engine.ask("Where are MSCs obtained from?").abstained


def test_a_serving_engine_warms_the_chunk_collection_once_after_its_first_answer(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from index.store import Store

    warmed: list[str] = []
    done = threading.Event()
    original = Store.warm_writes

    def counted(self: Store) -> None:
        original(self)
        warmed.append(threading.current_thread().name)
        done.set()

    monkeypatch.setattr(Store, "warm_writes", counted)
    question = "What are the barriers to MSC standardisation?"
    engine = Engine.open(settings)
    engine.ingest([BUNDLED_CORPUS])
    engine.ask(question)
    assert not warmed  # a one-shot command's engine: it would wait for the load to exit
    engine = Engine.open(settings)
    engine.keep_writes_warm()  # serve's, mcp's
    assert not warmed  # not at opening: it would slow the first answer
    first = engine.ask(question)
    assert done.wait(30)
    second = engine.ask(question)
    assert warmed == ["papertrail-warm-writes"]  # once, beside the answers
    assert first.model_dump() == second.model_dump()
    assert [d.doc_id for d in engine.documents()] == [BUNDLED_CORPUS.name]
    assert engine.store.chunks.count() == engine.documents()[0].chunks
