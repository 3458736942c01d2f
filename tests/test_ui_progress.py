"""Upload progress counts what the user knows: files and passages, not sentences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag import Engine
from ui.documents import DocumentHandlers


def test_upload_progress_counts_files_and_passages(engine: Engine, tmp_path: Path) -> None:
    upload = tmp_path / "gradio" / "reef-notes.txt"
    upload.parent.mkdir()
    # Many short sentences: far more sentences than passages.
    upload.write_text(" ".join(f"Coral colony {i} was tagged at dawn." for i in range(400)))
    calls: list[tuple[Any, dict[str, Any]]] = []

    def progress(value: Any, **kwargs: Any) -> None:
        calls.append((value, kwargs))

    DocumentHandlers(engine).upload([str(upload)], None, progress)
    (doc,) = engine.documents()
    assert calls[0] == (0, {"desc": "Reading 1 file"})
    embedding = [(v, k) for v, k in calls[1:]]
    assert embedding and embedding[-1][0] == (doc.chunks, doc.chunks)
    assert all(
        k == {"desc": "Embedding the passages of 1 file", "unit": "passages"} for _, k in embedding
    )


def test_upload_of_a_scan_tells_each_ocr_page_and_honours_the_ocr_choice(
    engine: Engine, tmp_path: Path
) -> None:
    scan = Path(__file__).parent / "data" / "scans" / "specter-p2-scan.pdf"
    calls: list[tuple[Any, dict[str, Any]]] = []

    def progress(value: Any, **kwargs: Any) -> None:
        calls.append((value, kwargs))

    handlers = DocumentHandlers(engine)
    upload = tmp_path / "gradio" / "scan.pdf"
    upload.parent.mkdir()
    upload.write_bytes(scan.read_bytes())
    report, _, _, _ = handlers.upload([str(upload)], "never", progress)
    assert "no extractable text" in report and not engine.documents()
    assert not [k for _, k in calls if k.get("unit") == "pages"]  # never: no page OCR'd

    upload.write_bytes(scan.read_bytes())
    report, _, _, _ = handlers.upload([str(upload)], "auto", progress)
    assert "scan.pdf</strong>: indexed" in report
    pages = [(v, k) for v, k in calls if k.get("unit") == "pages"]
    assert pages == [((1, 1), {"desc": "OCR scan.pdf: page 1 of 1", "unit": "pages"})]
    assert [p.ocr for p in engine.document("scan.pdf").pages] == [True]  # type: ignore[union-attr]
