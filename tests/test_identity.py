"""Document identity: a file is one document, whatever its name, and keeps its id."""

from __future__ import annotations

from pathlib import Path

from rag import Engine

NAMES = ["研究.txt", "論文.txt", "Статья.txt", "Обзор.txt", "a/paper.txt", "b/paper.txt"]


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_files_with_non_ascii_or_shared_names_stay_separate_documents(
    engine: Engine, tmp_path: Path
) -> None:
    paths = [
        _write(tmp_path, name, f"Document {i} is about topic number {i} in marine biology.")
        for i, name in enumerate(NAMES)
    ]
    report = engine.ingest(paths)
    assert [f.status for f in report.files] == ["indexed"] * 6
    ids = {d.doc_id for d in engine.documents()}
    assert len(ids) == 6
    assert {"研究.txt", "論文.txt", "статья.txt", "обзор.txt", "paper.txt"} <= ids
    (suffixed,) = ids - {"研究.txt", "論文.txt", "статья.txt", "обзор.txt", "paper.txt"}
    assert suffixed.startswith("paper.txt~")


def test_a_same_named_file_ingested_later_does_not_replace_the_first(
    engine: Engine, tmp_path: Path
) -> None:
    first = _write(tmp_path, "a/paper.txt", "Sea otters use stones to open shellfish.")
    second = _write(tmp_path, "b/paper.txt", "Crows bend wire into hooks to fetch food.")
    engine.ingest([first])
    report = engine.ingest([second])
    assert report.files[0].status == "indexed"
    assert len(engine.documents()) == 2
    assert {p.doc_id for p in engine.retrieve("sea otters stones", k=5)} >= {"paper.txt"}


def test_a_changed_file_keeps_its_id_and_replaces_its_old_version(
    engine: Engine, tmp_path: Path
) -> None:
    _write(tmp_path, "a/paper.txt", "Sea otters use stones to open shellfish.")
    second = _write(tmp_path, "b/paper.txt", "Crows bend wire into hooks to fetch food.")
    engine.ingest([tmp_path / "a", second])
    suffixed = next(d.doc_id for d in engine.documents() if d.doc_id != "paper.txt")
    second.write_text("Crows remember the faces of people who threatened them.")
    again = engine.ingest([second, tmp_path / "a"])
    assert [(f.status, f.doc_id) for f in again.files] == [
        ("replaced", suffixed),
        ("unchanged", "paper.txt"),
    ]
    assert len(engine.documents()) == 2
    crow = engine.document(suffixed)
    assert crow is not None and "faces" in crow.text


def test_the_same_file_named_twice_in_one_batch_is_indexed_once(
    engine: Engine, tmp_path: Path
) -> None:
    note = _write(tmp_path, "docs/note.txt", "Octopuses taste with their arms.")
    report = engine.ingest([tmp_path / "docs", note])
    assert [f.status for f in report.files] == ["indexed"]
    assert [d.doc_id for d in engine.documents()] == ["note.txt"]


def test_an_index_from_before_path_identity_is_migrated_in_place(
    engine: Engine, tmp_path: Path
) -> None:
    note = _write(tmp_path, "note.txt", "Octopuses taste with their arms.")
    engine.ingest([note])
    _forget_identity(engine)  # as the index looked before identities were kept
    reopened = Engine.open(engine.settings)
    assert reopened.ingest([note]).files[0].status == "unchanged"
    note.write_text("Octopuses have three hearts.")
    assert reopened.ingest([note]).files[0].status == "replaced"
    assert [d.doc_id for d in reopened.documents()] == ["note.txt"]


def _forget_identity(engine: Engine) -> None:
    registry = engine.store.registry
    got = registry.get(include=["metadatas", "documents"])
    for doc_id, meta, text in zip(
        got["ids"], got["metadatas"] or [], got["documents"] or [], strict=True
    ):
        legacy = {k: v for k, v in meta.items() if k != "source_key"}
        registry.delete(ids=[doc_id])
        registry.add(ids=[doc_id], embeddings=[[0.0]], metadatas=[legacy], documents=[text])
    registry.modify(metadata={"identity_version": 1})


def test_a_folder_with_a_symlink_loop_is_walked_once(engine: Engine, tmp_path: Path) -> None:
    note = _write(tmp_path, "docs/kelp.txt", "Kelp forests shelter sea otters.")
    (note.parent / "loop").symlink_to(note.parent, target_is_directory=True)
    report = engine.ingest([note.parent])
    assert [(f.status, f.doc_id) for f in report.files] == [("indexed", "kelp.txt")]


def test_replace_puts_another_file_in_a_documents_place_under_its_id(
    engine: Engine, tmp_path: Path
) -> None:
    preprint = _write(tmp_path, "preprint.txt", "Sea otters use stones to open shellfish.")
    engine.ingest([preprint])
    published = _write(tmp_path, "published.txt", "Sea otters crack clams on stones they keep.")
    report = engine.ingest([published], replace="preprint.txt")
    assert [(f.status, f.doc_id) for f in report.files] == [("replaced", "preprint.txt")]
    (doc,) = engine.documents()
    assert doc.doc_id == "preprint.txt" and doc.source == str(published)
    assert "clams" in engine.retrieve("otters clams", k=1)[0].text
    # From now on the new file is the document: ingesting it again changes nothing.
    assert [f.status for f in engine.ingest([published]).files] == ["unchanged"]


def test_replace_refuses_an_unknown_id_or_a_file_indexed_as_another_document(
    engine: Engine, tmp_path: Path
) -> None:
    a = _write(tmp_path, "a.txt", "Sea otters use stones to open shellfish.")
    b = _write(tmp_path, "b.txt", "Crows bend wire into hooks to fetch food.")
    engine.ingest([a, b])
    (unknown,) = engine.ingest([b], replace="nothing.txt").files
    assert unknown.status == "failed" and "cannot replace nothing.txt" in (unknown.error or "")
    (taken,) = engine.ingest([b], replace="a.txt").files
    assert taken.status == "failed" and "already indexed as b.txt" in (taken.error or "")
    assert sorted(d.doc_id for d in engine.documents()) == ["a.txt", "b.txt"]
