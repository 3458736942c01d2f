"""Ingestion: formats, page numbers, dedup, replacement, removal and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import loaders
from index.indexer import Indexer
from rag import Engine, Settings
from ui.render import report_html

FACT = "The zebrafish cohort showed a 42 percent rise in fin regeneration after treatment."


def _pdf_pages(header: str, n: int) -> list[list[str]]:
    pages = []
    for i in range(1, n + 1):
        body = [f"Page {i} discusses topic number {i} of the regeneration study in detail."] * 1
        extra = [FACT] if i == 2 else ["Control animals were kept in standard tanks at 28 degrees."]
        pages.append([header, "", *body, *extra, "", str(i)])
    return pages


def test_pdf_pages_are_numbered_and_running_header_removed(engine: Engine, make_pdf) -> None:
    pdf = make_pdf("study.pdf", _pdf_pages("Journal of Fin Research 2023; 7: 11-19", 3))
    report = engine.ingest([pdf])
    assert report.ok and report.files[0].status == "indexed"
    doc = engine.document(report.files[0].doc_id)
    assert doc is not None
    assert "Journal of Fin Research" not in doc.text
    assert [p.page for p in doc.pages] == [1, 2, 3]
    assert [p.label for p in doc.pages] == ["1", "2", "3"]
    answer = engine.ask("What rise in fin regeneration did the zebrafish cohort show?")
    assert not answer.abstained
    cited = [c for c in answer.citations if "42 percent" in c.quote]
    assert cited and all(c.page == 2 for c in cited)


def test_reingest_unchanged_file_embeds_nothing(engine: Engine, tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nMitochondria produce most of the cell's ATP supply.\n")
    first = engine.ingest([note])
    assert first.embedded_chunks > 0
    again = engine.ingest([note])
    assert again.files[0].status == "unchanged"
    assert again.embedded_chunks == 0


def test_a_file_read_by_an_older_reader_is_read_again_once(
    engine: Engine, make_pdf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = make_pdf("study.pdf", _pdf_pages("Journal of Fin Research 2023; 7: 11-19", 2))
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nMitochondria produce most of the cell's ATP supply.\n")
    current = loaders.READER_VERSIONS[".pdf"]
    monkeypatch.setitem(loaders.READER_VERSIONS, ".pdf", current - 1)
    engine.ingest([pdf, note])
    monkeypatch.setitem(loaders.READER_VERSIONS, ".pdf", current)  # PaperTrail upgraded
    again = engine.ingest([pdf, note])
    assert [f.status for f in again.files] == ["reread", "unchanged"]
    assert again.embedded_chunks > 0 and len(engine.documents()) == 2
    answer = engine.ask("How much did fin regeneration rise in the zebrafish cohort?")
    assert any(FACT in c.quote for c in answer.citations)  # the old parts are gone, not doubled
    assert [f.status for f in engine.ingest([pdf, note]).files] == ["unchanged", "unchanged"]
    assert "study.pdf</strong>: read again" in report_html(again.files)  # the upload's report


def test_changed_file_replaces_its_old_chunks(engine: Engine, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Ribosomes translate messenger RNA into protein chains.")
    engine.ingest([note])
    note.write_text("Lysosomes digest worn-out organelles inside the cell.")
    report = engine.ingest([note])
    assert report.files[0].status == "replaced"
    texts = " ".join(p.text for p in engine.retrieve("ribosomes lysosomes", k=10))
    assert "Lysosomes" in texts and "Ribosomes" not in texts
    assert [d.chunks for d in engine.documents()] == [1]


def test_remove_deletes_the_document_and_its_chunks(engine: Engine, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Axolotls regrow entire limbs after amputation.")
    b.write_text("Planarians regenerate from small body fragments.")
    engine.ingest([a, b])
    assert engine.remove("a.txt") is True
    assert [d.doc_id for d in engine.documents()] == ["b.txt"]
    assert all(p.doc_id == "b.txt" for p in engine.retrieve("axolotls regrow limbs", k=5))
    assert engine.remove("a.txt") is False


def test_folders_are_ingested_recursively(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "one.txt").write_text("Tardigrades survive extreme desiccation.")
    (tmp_path / "docs" / "sub" / "two.html").write_text(
        "<html><head><title>Two</title></head><body><p>Hydra do not age.</p></body></html>"
    )
    (tmp_path / "docs" / "sub" / "image.png").write_bytes(b"\x89PNG")
    report = engine.ingest([tmp_path / "docs"])
    assert sorted(f.doc_id or "" for f in report.files) == ["one.txt", "two.html"]
    assert {d.title for d in engine.documents()} == {"one", "Two"}


def _corrupt_pdf(tmp: Path) -> Path:
    path = tmp / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref")
    return path


def _truncated_pdf(tmp: Path, make_pdf) -> Path:
    good = make_pdf("whole.pdf", [["Some text on the page."]])
    path = tmp / "truncated.pdf"
    path.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    return path


def _encrypted_pdf(tmp: Path, make_pdf) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(make_pdf("plain.pdf", [["Secret text."]])).pages:
        writer.add_page(page)
    writer.encrypt(user_password="s3cret", owner_password="owner")
    path = tmp / "encrypted.pdf"
    with path.open("wb") as f:
        writer.write(f)
    return path


def _scanned_pdf(tmp: Path, make_pdf) -> Path:
    return make_pdf("scanned.pdf", [[], []])


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("corrupt.pdf", lambda tmp, mk: _corrupt_pdf(tmp), "not a readable PDF"),
        ("truncated.pdf", _truncated_pdf, "not a readable PDF"),
        ("encrypted.pdf", _encrypted_pdf, "encrypted"),
        ("scanned.pdf", _scanned_pdf, "no extractable text"),
        ("empty.txt", lambda tmp, mk: _write(tmp / "empty.txt", b""), "empty"),
        ("blank.md", lambda tmp, mk: _write(tmp / "blank.md", b"  \n\n "), "empty"),
        ("paper.docx", lambda tmp, mk: _write(tmp / "paper.docx", b"PK\x03\x04"), "unsupported"),
        (
            "latin1.txt",
            lambda tmp, mk: _write(tmp / "latin1.txt", "Café ok\n".encode("latin-1")),
            "not UTF-8",
        ),
        ("missing.txt", lambda tmp, mk: tmp / "missing.txt", "no such file"),
    ],
)
def test_bad_input_is_reported_by_name_and_the_batch_goes_on(
    engine: Engine, tmp_path: Path, make_pdf, name: str, make, message: str
) -> None:
    good_before = tmp_path / "kept.txt"
    good_before.write_text("Earthworms aerate soil by burrowing.")
    engine.ingest([good_before])
    bad = make(tmp_path, make_pdf)
    good_after = tmp_path / "after.txt"
    good_after.write_text("Honeybees communicate through a waggle dance.")

    report = engine.ingest([bad, good_after])

    failed = report.failed
    assert len(failed) == 1 and failed[0].error is not None
    assert name in failed[0].error and message in failed[0].error
    assert {d.doc_id for d in engine.documents()} == {"kept.txt", "after.txt"}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_pages_without_text_are_flagged_but_the_rest_is_indexed(engine: Engine, make_pdf) -> None:
    pdf = make_pdf("mixed.pdf", [["Octopuses have three hearts and blue blood."], []])
    report = engine.ingest([pdf])
    result = report.files[0]
    assert result.status == "indexed"
    assert [w.page for w in result.warnings] == [2]
    assert "page 2" in result.warnings[0].message


class _RecordingEmbedder:
    """Stands in for the model: a vector that names its text, and a log of the batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    @staticmethod
    def vector(text: str) -> list[float]:
        return [float(len(text)), float(sum(map(ord, text)) % 997)]

    def get_text_embedding_batch(self, texts: list[str], **_: object) -> list[list[float]]:
        self.batches.append(list(texts))
        return [self.vector(t) for t in texts]


def test_sentences_are_embedded_shortest_first_and_stored_with_their_own_vectors(
    settings: Settings, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    first.write_text(
        "# A\n\nA considerably longer opening sentence about mitochondria and ATP. Short one.\n"
    )
    second.write_text("# B\n\nMedium sentence on ribosomes here. Tiny.\n")
    embedder = _RecordingEmbedder()
    indexer = Indexer(settings, embedder=embedder)  # type: ignore[arg-type]
    assert indexer.ingest([first, second]).ok
    sent = [t for batch in embedder.batches for t in batch]
    assert sent == sorted(sent, key=len)  # across both files, not file by file
    metas, vectors = indexer.store.all_sentences()
    assert len(metas) == len(sent)
    for meta, row in zip(metas, vectors, strict=True):
        assert row.tolist() == pytest.approx(embedder.vector(meta["text"]), rel=1e-5)


def test_a_sentence_said_word_for_word_in_two_files_is_embedded_once(
    settings: Settings, tmp_path: Path
) -> None:
    shared = "All authors read and approved the final manuscript."
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    first.write_text(f"# A\n\nMitochondria make most of the cell's ATP. {shared}\n")
    second.write_text(f"# B\n\nRibosomes translate messenger RNA into protein. {shared}\n")
    embedder = _RecordingEmbedder()
    indexer = Indexer(settings, embedder=embedder)  # type: ignore[arg-type]
    assert indexer.ingest([first, second]).ok
    sent = [t for batch in embedder.batches for t in batch]
    assert sent.count(shared) == 1
    metas, vectors = indexer.store.all_sentences()
    rows = [row for meta, row in zip(metas, vectors, strict=True) if meta["text"] == shared]
    assert len(rows) == 2  # each file keeps its own sentence, with the one vector
    for row in rows:
        assert row.tolist() == pytest.approx(embedder.vector(shared), rel=1e-5)
