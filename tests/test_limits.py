"""Guards on input: size limits, byte-order marks, decompression bombs."""

from __future__ import annotations

import codecs
import zlib
from pathlib import Path

import pytest

from rag import Engine

TEXT = "Manta rays have the largest brain of any fish. They visit cleaning stations."


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_text_with_a_byte_order_mark_is_read_as_text(
    engine: Engine, tmp_path: Path, bom: bytes, encoding: str
) -> None:
    note = tmp_path / "manta.txt"
    note.write_bytes(bom + TEXT.encode(encoding))
    report = engine.ingest([note])
    assert report.ok, report.failed
    doc = engine.document("manta.txt")
    assert doc is not None and doc.text.strip() == TEXT


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.settings.max_file_mb = 0.001
    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_text(TEXT * 20)
    small.write_text(TEXT)
    monkeypatch.setattr(Path, "read_bytes", _no_reading(big))
    report = engine.ingest([big, small])
    assert [f.status for f in report.files] == ["failed", "indexed"]
    assert report.files[0].error == (
        f"{big}: file is 0.00152 MB; the limit is 0.001 MB (PAPERTRAIL_MAX_FILE_MB); "
        "nothing was read"
    )


def _no_reading(forbidden: Path):
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        assert self != forbidden, "the oversized file was read"
        return original(self)

    return read_bytes


def test_a_document_over_the_text_limit_is_refused_before_it_is_embedded(
    engine: Engine, tmp_path: Path
) -> None:
    engine.settings.max_document_chars = 1000
    long = tmp_path / "long.txt"
    long.write_text(TEXT * 20)
    report = engine.ingest([long])
    assert report.files[0].status == "failed" and report.embedded_sentences == 0
    assert "text is 1,520 characters long; the limit is 1,000" in (report.files[0].error or "")


def _bomb_pdf(path: Path) -> Path:
    """A one-page PDF whose content stream inflates past pypdf's 75 MB limit."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = StreamObject()
    stream._data = zlib.compress(b"BT (x) Tj ET\n" + b" " * 80_000_000, 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as f:
        writer.write(f)
    return path


def test_a_pdf_past_the_decompression_limit_says_so(engine: Engine, tmp_path: Path) -> None:
    report = engine.ingest([_bomb_pdf(tmp_path / "bomb.pdf")])
    error = report.files[0].error or ""
    assert error.startswith(f"{tmp_path / 'bomb.pdf'}, page 1: a content stream decompresses")
    assert "decompression bomb" in error and "OCR" not in error
