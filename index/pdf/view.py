"""A PDF page as the reader sees it: the page rendered, and where a quote is printed on it."""

from __future__ import annotations

import ctypes
import unicodedata
from pathlib import Path

from index.pdf.ocr import OcrEngine
from index.pdf.reader import _cached_layout

__all__ = ["quote_boxes", "render_page"]


def quote_boxes(
    path: Path, page_number: int, quote: str, *, ocr: OcrEngine | None = None
) -> list[tuple[float, float, float, float]]:
    """Where `quote` (text from this page as PaperTrail cleaned it) is printed on the page:
    one box per printed line it covers, as (left, top, right, bottom) fractions of the page
    measured from its top-left corner. Empty when the quote is not found there.

    A page that was OCR'd is read with `ocr` again (its words are kept in the OCR cache), and
    the boxes are Tesseract's, on the scanned image."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pages, _ = _cached_layout(str(path), path.stat().st_mtime_ns, ocr)
    if not 0 < page_number <= len(pages):
        return []
    # Compared on letters and digits only: spaces, hyphens and line breaks were rejoined by
    # cleaning, and the blocks of one kind read in order skip the footnotes between them.
    needle = "".join(c.lower() for c in unicodedata.normalize("NFC", quote) if c.isalnum())
    for only_body in (True, False):
        keys: list[str] = []
        owners: list[int] = []
        for block in pages[page_number - 1].blocks:
            if only_body and block.kind != "body":
                continue
            text = unicodedata.normalize("NFC", block.text)
            for ch, idx in zip(text, block.index, strict=False):
                if ch.isalnum() and idx >= 0:
                    keys.append(ch.lower())
                    owners.append(idx)
        span = _find("".join(keys), needle)
        if span is not None:
            break
    else:
        return []
    wanted = sorted(set(owners[span[0] : span[1]]))
    scanned = pages[page_number - 1].boxes
    pdf = pdfium.PdfDocument(str(path))
    try:
        page = pdf[page_number - 1]
        width, height = page.get_size()
        textpage = page.get_textpage()
        rows: list[list[float]] = []  # merged boxes, one per printed line
        left, bottom, right, top = (ctypes.c_double() for _ in range(4))
        for i in wanted:
            if scanned is not None:
                box = list(scanned[i])
            else:
                raw.FPDFText_GetCharBox(
                    textpage, i, ctypes.byref(left), ctypes.byref(right), ctypes.byref(bottom),
                    ctypes.byref(top),
                )  # fmt: skip
                box = [left.value, bottom.value, right.value, top.value]
            row = rows[-1] if rows else None
            same_line = row is not None and abs(row[1] - box[1]) < 0.5 * (box[3] - box[1] + 1)
            if row is not None and same_line and box[0] >= row[0] - 2:
                row[0], row[1] = min(row[0], box[0]), min(row[1], box[1])
                row[2], row[3] = max(row[2], box[2]), max(row[3], box[3])
            else:
                rows.append(box)
        textpage.close()
        return [
            (x0 / width, 1 - y1 / height, x1 / width, 1 - y0 / height) for x0, y0, x1, y1 in rows
        ]
    finally:
        pdf.close()


def _find(haystack: str, needle: str) -> tuple[int, int] | None:
    """The quote in the page's characters; or, for a quote that runs over a page break,
    the part of it that ends this page or begins it."""
    if not needle:
        return None
    at = haystack.find(needle)
    if at >= 0:
        return at, at + len(needle)
    for size in range(len(needle) - 1, 19, -1):
        if haystack.endswith(needle[:size]):
            return len(haystack) - size, len(haystack)
        if haystack.startswith(needle[-size:]):
            return 0, size
    return None


def render_page(path: Path, page_number: int, out: Path, *, scale: float = 1.5) -> Path:
    """The page as a PNG at `out` (written once; kept as a cache)."""
    import pypdfium2 as pdfium

    if out.exists():
        return out
    pdf = pdfium.PdfDocument(str(path))
    try:
        image = pdf[page_number - 1].render(scale=scale).to_pil()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.png")
        image.save(tmp, format="PNG", optimize=True)
        tmp.replace(out)  # whole files only, for a reader in another session
        return out
    finally:
        pdf.close()
