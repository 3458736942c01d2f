"""A PDF file -> every page's labelled blocks and the title on its first page.

Each page is read from its text layer; a page whose layer is missing or garbage (auto), or
every page (always), is OCR'd instead, and all pages go through the same layout.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from index.pdf.layout import LayoutPage, label_pages, needs_ocr
from index.pdf.lines import RawPage
from index.pdf.ocr import OcrEngine, OcrUnavailable, PageProgress, ocr_pages
from index.pdf.text_layer import page_lines

__all__ = ["read_layout"]


def read_layout(
    path: Path, ocr: OcrEngine | None = None, *, on_page: PageProgress | None = None
) -> tuple[list[LayoutPage], str | None]:
    """Every page's labelled blocks, and the title found on the first page's layout.

    Without `ocr` (or with its mode never) only the text layer is read."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        raw_pages = [page_lines(pdf[i]) for i in range(len(pdf))]
    finally:
        pdf.close()
    if ocr is not None and ocr.mode != "never":
        raw_pages = _with_ocr(path, raw_pages, ocr, on_page)
    return label_pages(raw_pages)


def _with_ocr(
    path: Path, raw_pages: list[RawPage], ocr: OcrEngine, on_page: PageProgress | None
) -> list[RawPage]:
    # A text layer from an earlier OCR (ocrmypdf, scanner software) reads as text: only a
    # missing or garbage layer is OCR'd in auto mode.
    unusable = {i + 1 for i, p in enumerate(raw_pages) if needs_ocr(p.lines)}
    wanted = sorted(unusable) if ocr.mode == "auto" else list(range(1, len(raw_pages) + 1))
    out = list(raw_pages)
    try:
        scanned = ocr_pages(path, wanted, ocr, on_page=on_page)
    except OcrUnavailable as exc:
        for n in unusable:
            out[n - 1] = out[n - 1]._replace(problem=f"{_UNAVAILABLE}{exc}")
        return out
    for n, page in scanned.items():
        if page.problem and n not in unusable:
            continue  # always: a page Tesseract failed on keeps its good text layer
        out[n - 1] = page
    return out


# Pages that needed OCR when it could not run: reported together (index.loaders).
_UNAVAILABLE = "has no usable text layer and cannot be OCR'd: "


@lru_cache(maxsize=8)
def _cached_layout(
    path: str, mtime_ns: int, ocr: OcrEngine | None = None
) -> tuple[list[LayoutPage], str | None]:
    del mtime_ns  # part of the cache key: a changed file is read again
    return read_layout(Path(path), ocr)
