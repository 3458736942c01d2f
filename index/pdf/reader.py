"""A PDF file -> every page's labelled blocks and the title on its first page."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from index.pdf.layout import LayoutPage, label_pages
from index.pdf.text_layer import page_lines

__all__ = ["read_layout"]


def read_layout(path: Path) -> tuple[list[LayoutPage], str | None]:
    """Every page's labelled blocks, and the title found on the first page's layout."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        raw_pages = [page_lines(pdf[i]) for i in range(len(pdf))]
    finally:
        pdf.close()
    return label_pages(raw_pages)


@lru_cache(maxsize=8)
def _cached_layout(path: str, mtime_ns: int) -> tuple[list[LayoutPage], str | None]:
    del mtime_ns  # part of the cache key: a changed file is read again
    return read_layout(Path(path))
