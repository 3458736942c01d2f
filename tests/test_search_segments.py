"""The search cache in segments: work in proportion to what changed, scores as one index."""

from __future__ import annotations

import itertools
import json
import mmap
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


def _buffer(array: np.ndarray) -> object:
    """What an array's memory ultimately belongs to."""
    base: object = array
    while isinstance(base, (np.ndarray, memoryview)):
        base = base.base if isinstance(base, np.ndarray) else base.obj
    return base


def _covid_articles(n: int, chars: int) -> list[tuple[str, str, list[str]]]:
    """(name, text, questions) of the first n COVID-QA articles, cut to `chars`."""
    data = json.loads(
        (Path(__file__).parent.parent / "eval/datasets/covid-qa/covid-qa-200423.json").read_text()
    )["data"]
    out = []
    for a in data[:n]:
        p = a["paragraphs"][0]
        asked = [q["question"] for q in p["qas"] if q["answers"][0]["answer_start"] < chars]
        out.append((f"covid-{p['document_id']}.txt", p["context"][:chars], asked))
    return out


def test_shortlisted_sentence_scoring_finds_what_scoring_every_sentence_finds(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small library stands in for a large one: the projection is made from 64 sentences.
    monkeypatch.setattr(search_module, "_REDUCE_FROM", 64)
    monkeypatch.setattr(search_module, "_REDUCED_DIMS", 32)
    articles = _covid_articles(4, 5000)
    engine = Engine.open(settings)
    engine.ingest([_write(tmp_path, name, text) for name, text, _ in articles])
    engine.search.refresh()
    (segment,) = engine.search._current().segments
    assert segment.reduced is not None and segment.reduced.shape[1] == 32
    questions = [q for *_, asked in articles for q in asked]
    assert len(questions) >= 10 and len(segment.chunks) > 24
    for question in questions:
        vector = engine.embedder.get_query_embedding(question)
        full = engine.search.semantic(vector, 3)
        short = engine.search.semantic(vector, 3, shortlist=8)
        assert [round(s, 5) for _, s in short] == [round(s, 5) for _, s in full], question
        assert all(type(r) is int and type(s) is float for r, s in full + short)  # JSON-ready
        # Only the shortlist was scored: the rest of the library is never a candidate.
        assert len(engine.search.semantic(vector, 100, shortlist=100)) == len(segment.chunks)
        assert len(engine.search.semantic(vector, 8, shortlist=8)) == 8


def test_an_opened_index_maps_sentence_vectors_and_reads_only_the_documents_it_scores(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "_REDUCE_FROM", 64)
    monkeypatch.setattr(search_module, "_REDUCED_DIMS", 32)
    articles = _covid_articles(4, 5000)
    engine = Engine.open(settings)
    engine.ingest([_write(tmp_path, name, text) for name, text, _ in articles])
    vectors = [engine.embedder.get_query_embedding(q) for *_, asked in articles for q in asked]
    expected = [engine.search.semantic(v, 3, shortlist=8) for v in vectors]

    fresh = Engine.open(settings)
    fresh.search.refresh()
    (segment,) = fresh.search._current().segments
    mapped = segment.vectors
    assert isinstance(mapped, search_module._MappedVectors)
    assert not mapped._maps  # nothing mapped at opening
    assert [fresh.search.semantic(v, 3, shortlist=8) for v in vectors] == expected
    assert 0 < len(mapped._maps) <= len(articles)  # the shortlisted chunks' documents
    assert all(isinstance(_buffer(m), mmap.mmap) for m in mapped._maps.values())  # not read
    # Each document's vectors, as the store has them.
    for name, *_ in articles:
        lo, hi = segment.doc_rows[name]
        got = fresh.search.sentences(name, 0, 10**9)
        stored = fresh.store.sentence_vectors(name, segment.docs[name], hi - lo)
        assert np.array_equal(mapped[np.arange(lo, hi)], stored)
        assert np.array_equal(mapped[lo:hi], stored)
        assert np.array_equal(np.stack([v for _, v in got]), stored[: len(got)])
    q = np.asarray(vectors[0], dtype=np.float32)
    rows = np.array([5, 0, len(mapped) - 1, 5])  # any order, repeated, across documents
    stored_all = np.concatenate(
        [
            fresh.store.sentence_vectors(n, segment.docs[n], np.diff(segment.doc_rows[n])[0])
            for n in sorted(segment.doc_rows, key=lambda d: segment.doc_rows[d][0])
        ]
    )
    assert np.array_equal(mapped[rows], stored_all[rows])
    assert np.allclose(mapped @ q, stored_all @ q, atol=1e-6)


def test_the_cache_keeps_no_copy_of_the_stores_sentence_vectors(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    engine.ingest([_write(tmp_path, n, t) for n, t in NOTES.items()])
    question = "Which animals build dams?"
    before = _ranked(engine, question)
    cache = settings.index_dir / "cache" / settings.collection
    assert not list(cache.glob("seg-*/vectors.npy"))
    assert {json.loads(p.read_text())["vectors"] for p in cache.glob("seg-*/manifest.json")} == {
        "store"
    }
    assert _ranked(Engine.open(settings), question) == before  # read from the store's files


def test_a_replaced_version_whose_vectors_are_gone_is_masked_not_rederived(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.ingest([_write(tmp_path, n, t) for n, t in NOTES.items()])
    engine.ingest([_write(tmp_path, "otter.txt", "Otters sleep holding paws in kelp forests.")])
    on_disk = _segments(settings)
    monkeypatch.setattr(Store, "parts", lambda *_: pytest.fail("derived again"))
    fresh = Engine.open(settings)
    fresh.search.refresh()
    assert _segments(settings) == on_disk
    (passage,) = fresh.retrieve("Where do otters sleep?", k=1)
    assert passage.text == "Otters sleep holding paws in kelp forests."
    assert "shellfish" not in " ".join(p.text for p in fresh.retrieve("otters shellfish", k=4))


def _without_term_counts(segment: Path) -> None:
    """Rewrite a segment as format 8 wrote it before its sentences' term counts."""
    for array in (segment / "arrays").glob("term_*.npy"):
        array.unlink()


def _as_format_7(segment: Path) -> None:
    """Rewrite a segment as format 7 wrote it: the documents' texts in data.json."""
    _without_term_counts(segment)
    data = json.loads((segment / "data.json").read_text())
    blob = np.load(segment / "texts.npy").tobytes()
    ends = np.load(segment / "arrays" / "text_ends.npy")
    starts = [0, *ends[:-1].tolist()]
    docs = data.pop("text_docs")
    data["texts"] = {d: blob[a:b].decode() for d, a, b in zip(docs, starts, ends, strict=True)}
    (segment / "data.json").write_text(json.dumps(data))
    (segment / "texts.npy").unlink()
    (segment / "arrays" / "text_ends.npy").unlink()
    manifest = json.loads((segment / "manifest.json").read_text())
    (segment / "manifest.json").write_text(json.dumps({**manifest, "format": 7}))


def _counted_sentence_by_sentence(engine: Engine, doc: str, wanted: list[str]) -> tuple:
    rows = engine.search.sentences(doc, 0, 1 << 40)
    held = [set(terms(sentence.text)) for sentence, _ in rows]
    return len(rows), {t: n for t in wanted if (n := sum(t in h for h in held))}


def test_term_counts_are_each_sentences_terms_counted_when_derived_merged_and_read(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "_MAX_SEGMENTS", 2)
    engine = Engine.open(settings)
    notes = {**NOTES, "mixed.txt": "Otters and herons fish. Dams stop salmon. Water rises."}
    for name, text in notes.items():  # one segment each, merged past two
        engine.ingest([_write(tmp_path, name, text)])
    wanted = ["dam", "water", "fish", "otter", "salmon", "no-such-term"]
    docs = [d.doc_id for d in engine.documents()]
    expected = {d: _counted_sentence_by_sentence(engine, d, wanted) for d in docs}
    assert any(counts for _, counts in expected.values())
    engine.search.refresh()
    assert {d: engine.search.term_counts(d, wanted) for d in docs} == expected
    fresh = Engine.open(settings)  # read back from the cache
    fresh.search.refresh()
    assert {d: fresh.search.term_counts(d, wanted) for d in docs} == expected


def _as_format_6(segment: Path) -> None:
    """Rewrite a segment as format 6 wrote it: its projections float32, not int8 codes."""
    _as_format_7(segment)
    folder = segment / "arrays"
    if (segment / "reduced.npy").exists():
        scale = np.load(folder / "reduced_scale.npy")
        projected = np.load(segment / "reduced.npy").astype(np.float32) * scale
        np.save(segment / "reduced.npy", projected)
        (folder / "reduced_scale.npy").unlink()
    manifest = json.loads((segment / "manifest.json").read_text())
    (segment / "manifest.json").write_text(json.dumps({**manifest, "format": 6}))


def _as_format_5(segment: Path) -> None:
    """Rewrite a segment as format 5 wrote it: each sentence row's document by name, the
    arrays in one .npz."""
    _as_format_6(segment)
    manifest = json.loads((segment / "manifest.json").read_text())
    data = json.loads((segment / "data.json").read_text())
    data["sent_doc"] = [d for d, n in data.pop("sent_runs") for _ in range(n)]
    (segment / "data.json").write_text(json.dumps(data))
    folder = segment / "arrays"  # one .npz, not one .npy per array
    np.savez(segment / "arrays.npz", **{p.stem: np.load(p) for p in folder.glob("*.npy")})
    shutil.rmtree(folder)
    (segment / "manifest.json").write_text(json.dumps({**manifest, "format": 5}))


def _as_format_4(segment: Path) -> None:
    """Rewrite a segment as format 4 wrote it: the vocabulary a JSON list with terms in the
    order they came (here: reversed), each chunk's metadata whole."""
    _as_format_5(segment)
    manifest = json.loads((segment / "manifest.json").read_text())
    data = json.loads((segment / "data.json").read_text())
    arrays = dict(np.load(segment / "arrays.npz"))
    blob, ends = arrays.pop("vocab_blob").tobytes(), arrays.pop("vocab_ends")
    vocab = [blob[a:b].decode() for a, b in itertools.pairwise(ends)]
    ptr = arrays["indptr"]
    order = range(len(vocab) - 1, -1, -1)
    for key in ("rows", "tf"):
        arrays[key] = np.concatenate([arrays[key][ptr[t] : ptr[t + 1]] for t in order])
    arrays["indptr"] = np.concatenate([[0], np.cumsum([ptr[t + 1] - ptr[t] for t in order])])
    data["vocab"] = vocab[::-1]
    if (segment / "reduced.npy").exists():  # in the arrays, float16
        arrays["reduced"] = np.load(segment / "reduced.npy").astype(np.float16)
        (segment / "reduced.npy").unlink()
    shared = data.pop("doc_fields")
    data["chunks"] = [[i, t, {**shared.get(d, {}), **m}] for i, t, d, m in data["chunks"]]
    (segment / "data.json").write_text(json.dumps(data))
    np.savez(segment / "arrays.npz", **arrays)
    (segment / "manifest.json").write_text(json.dumps({**manifest, "format": 4}))


def _as_format_3(segment: Path) -> None:
    """Rewrite a segment as the version before that wrote it: its own float16 vectors,
    float32 term frequencies, no projection."""
    from index.store import open_store

    _as_format_4(segment)
    manifest = json.loads((segment / "manifest.json").read_text())
    data = json.loads((segment / "data.json").read_text())
    arrays = dict(np.load(segment / "arrays.npz"))
    store = open_store(Settings(index_dir=segment.parents[2]))
    docs = list(dict.fromkeys(data["sent_doc"]))  # rows are in document order
    vectors = [
        store.sentence_vectors(d, manifest["docs"][d], data["sent_doc"].count(d)) for d in docs
    ]
    np.save(segment / "vectors.npy", np.concatenate(vectors).astype(np.float16))
    arrays = {k: v for k, v in arrays.items() if k not in ("basis", "reduced")}
    arrays["tf"] = arrays["tf"].astype(np.float32)
    np.savez(segment / "arrays.npz", **arrays)
    (segment / "manifest.json").write_text(json.dumps({**manifest, "format": 3}))


@pytest.mark.parametrize("fmt", [3, 4, 5, 6, 7, 8])
def test_a_cache_in_a_previous_format_is_rewritten_with_a_message_not_derived_again(
    fmt: int,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A projection from 4 sentences on, so that the notes' segment has one to migrate.
    monkeypatch.setattr(search_module, "_REDUCE_FROM", 4)
    monkeypatch.setattr(search_module, "_REDUCED_DIMS", 4)
    engine.ingest([_write(tmp_path, n, t) for n, t in NOTES.items()])
    question = "Which animals build dams?"
    before, words = _ranked(engine, question), _keyword(engine, "water dams fish")
    some = {"water", "dams", "the", "beaver", "no-such-term"}
    idf, unseen = engine.search.idf(list(some)), engine.search.unseen(list(some))
    cache = settings.index_dir / "cache" / settings.collection
    (old,) = cache.glob("seg-*")
    migrate = {3: _as_format_3, 4: _as_format_4, 5: _as_format_5, 6: _as_format_6}
    {**migrate, 7: _as_format_7, 8: _without_term_counts}[fmt](old)
    monkeypatch.setattr(Store, "parts", lambda *_: pytest.fail("derived again"))
    with caplog.at_level("WARNING", logger="index.search"):
        fresh = Engine.open(settings)
        assert _keyword(fresh, "water dams fish") == words
    assert f"1 segment(s) in format {fmt}" in caplog.text and "rewritten" in caplog.text
    assert fresh.search.idf(list(some)) == idf and fresh.search.unseen(list(some)) == unseen
    assert fresh.search.chunk(0) == engine.search.chunk(0)  # its metadata whole again
    (new,) = cache.glob("seg-*")
    assert new.name != old.name and not (new / "vectors.npy").exists()
    assert json.loads((new / "manifest.json").read_text())["format"] == search_module._CACHE_FORMAT
    assert [c for c, _ in _ranked(Engine.open(settings), question)] == [c for c, _ in before]
    if fmt > 3:  # the projection came across as int8 codes, not projected again
        reduced = np.load(new / "reduced.npy")
        assert reduced.dtype == np.int8 and reduced.shape[1] == 4
    assert "texts" not in json.loads((new / "data.json").read_text())  # in texts.npy now
    assert (new / "arrays" / "term_ids.npy").is_file()  # counted once, in the rewrite


def test_a_cache_older_than_that_is_derived_again_with_a_message(
    engine: Engine, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine.ingest([_write(tmp_path, n, t) for n, t in NOTES.items()])
    before = _keyword(engine, "water dams fish")
    cache = settings.index_dir / "cache" / settings.collection
    (old,) = cache.glob("seg-*")
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "format": 2}))
    with caplog.at_level("WARNING", logger="index.search"):
        assert _keyword(Engine.open(settings), "water dams fish") == before
    assert "in format 2" in caplog.text and "derived again from the store" in caplog.text
    assert not old.exists()


def test_inverted_lists_over_the_projection_find_what_scoring_every_sentence_finds(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inverted lists from 256 sentences on; probing every list must give the full scan's
    # scores, and a reopened index must read the same lists back.
    monkeypatch.setattr(search_module, "_REDUCE_FROM", 64)
    monkeypatch.setattr(search_module, "_REDUCED_DIMS", 32)
    monkeypatch.setattr(search_module, "_IVF_FROM", 256)
    monkeypatch.setattr(search_module, "_PROBE_SHARE", 1.0)
    articles = _covid_articles(6, 8000)
    engine = Engine.open(settings)
    engine.ingest([_write(tmp_path, name, text) for name, text, _ in articles])
    engine.search.refresh()
    (segment,) = engine.search._current().segments
    lists = segment.ivf
    assert lists is not None and len(segment.sent_doc) >= 256 and len(lists.ptr) > 3
    assert sorted(lists.rows.tolist()) == list(range(len(segment.sent_doc)))  # each row once
    questions = [q for *_, asked in articles for q in asked]
    vectors = [engine.embedder.get_query_embedding(q) for q in questions]
    for question, vector in zip(questions, vectors, strict=True):
        qr = np.asarray(vector, dtype=np.float32) @ segment.basis
        in_row_order = np.empty(len(segment.reduced), dtype=np.float32)
        in_row_order[lists.rows] = search_module._projected(segment, qr, 0, len(segment.reduced))
        every = search_module._best_sentences(segment, qr, in_row_order)
        rows, scores = search_module._shortlisted(segment, qr, 10)
        best = np.argsort(-every, kind="stable")[:10]
        assert np.allclose(scores, every[best], atol=1e-5), question  # the ten best, in order
        assert np.allclose(every[rows], scores, atol=1e-5), question  # each its chunk's best
        full = engine.search.semantic(vector, 3)
        short = engine.search.semantic(vector, 3, shortlist=40)
        assert [round(s, 5) for _, s in short] == [round(s, 5) for _, s in full], question
        assert all(type(r) is int and type(s) is float for r, s in full + short)  # JSON-ready
    expected = [engine.search.semantic(v, 5, shortlist=8) for v in vectors]
    fresh = Engine.open(settings)
    fresh.search.refresh()
    (reread,) = fresh.search._current().segments
    assert reread.ivf is not None and np.array_equal(reread.ivf.rows, lists.rows)
    assert [fresh.search.semantic(v, 5, shortlist=8) for v in vectors] == expected
    # Probing one list: fewer candidates, but each one scored exactly.
    monkeypatch.setattr(search_module, "_PROBE_SHARE", 0.01)
    for vector in vectors:
        exact = dict(fresh.search.semantic(vector, len(reread.chunks)))
        probed = fresh.search.semantic(vector, 8, shortlist=8)
        assert 0 < len(probed) <= 8
        assert all(abs(score - exact[row]) < 1e-6 for row, score in probed)


def test_a_small_addition_merges_with_small_segments_not_into_the_large_one(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.indexer

    monkeypatch.setattr(search_module, "_MAX_SEGMENTS", 2)
    monkeypatch.setattr(index.indexer, "_BATCH_FILES", 40)  # the bulk: two large segments
    engine = Engine.open(settings)
    bulk = [
        _write(tmp_path, f"note{i}.txt", f"Note {i} on river otters{i} and kelp.")
        for i in range(80)
    ]
    engine.ingest(bulk)
    large = set(_segments(settings))
    assert len(large) == 2
    for name, text in NOTES.items():  # four one-chunk papers, one at a time
        engine.ingest([_write(tmp_path, name, text)])
    after = _segments(settings)
    assert large <= set(after)  # never rewritten for them
    assert len(after) <= 2 + 2 and sum(len(d) for d in after.values()) == 80 + len(NOTES)
    merged = _keyword(engine, "water dams fish otters3")
    shutil.rmtree(settings.index_dir / "cache")
    assert _keyword(Engine.open(settings), "water dams fish otters3") == merged


def test_a_segment_whose_documents_were_all_replaced_is_dropped(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    engine.ingest([_write(tmp_path, "otter.txt", NOTES["otter.txt"])])
    (first,) = _segments(settings)
    engine.ingest([_write(tmp_path, "otter.txt", "Otters sleep holding paws in kelp forests.")])
    assert first not in _segments(settings)
    (passage,) = engine.retrieve("Where do otters sleep?", k=1)
    assert passage.text == "Otters sleep holding paws in kelp forests."


def test_mapped_documents_are_bounded_and_unmapped_ones_read_again(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = _covid_articles(4, 3000)
    engine = Engine.open(settings)
    engine.ingest([_write(tmp_path, name, text) for name, text, _ in articles])
    vectors = [engine.embedder.get_query_embedding(q) for *_, asked in articles for q in asked]
    expected = [engine.search.semantic(v, 5) for v in vectors]
    monkeypatch.setattr(search_module, "_max_open", lambda: 2)
    fresh = Engine.open(settings)
    assert [fresh.search.semantic(v, 5) for v in vectors] == expected
    assert len(search_module._OPEN) <= 2
