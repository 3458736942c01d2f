"""A cited PDF page as the reader sees it: the rendered page and the quote's boxes on it."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from index.models import Document
from index.pdf import OcrEngine, quote_boxes, render_page

__all__ = ["PageView", "page_view"]


class PageView(BaseModel):
    """A PNG of one page and where the quote is printed on it."""

    page: int = Field(description="1-based page in the file.")
    image: str = Field(description="Path of the rendered page (PNG).")
    aspect: float = Field(description="Width over height of the page.")
    boxes: list[tuple[float, float, float, float]] = Field(
        default_factory=list,
        description="(left, top, right, bottom) of each printed line of the quote, as "
        "fractions of the page from its top-left corner; empty when not located.",
    )


def page_view(
    document: Document,
    page: int,
    quote: str | None,
    *,
    cache_dir: Path,
    ocr_cache: Path | None = None,
) -> PageView | None:
    """The view of `page` of `document`, or None when it is not a PDF that is still the
    file that was indexed (moved, deleted or changed since). A scanned page's words come
    from `ocr_cache`, where its ingest kept them."""
    path = Path(document.source)
    if path.suffix.lower() != ".pdf" or not path.is_file():
        return None
    if _digest(str(path), path.stat().st_mtime_ns) != document.content_hash:
        return None
    image = render_page(path, page, cache_dir / f"{document.content_hash[:20]}-p{page}.png")
    from PIL import Image

    with Image.open(image) as im:
        aspect = im.width / im.height
    span = next((p for p in document.pages if p.page == page), None)
    # A scanned page's words come back from the OCR cache that ingest filled, read with
    # whatever languages it used; only a page missing there is OCR'd again.
    scanned = span is not None and span.ocr
    ocr = OcrEngine(mode="auto", cache_dir=ocr_cache, any_kept=True) if scanned else None
    boxes = quote_boxes(path, page, quote, ocr=ocr) if quote else []
    return PageView(page=page, image=str(image), aspect=aspect, boxes=boxes)


@lru_cache(maxsize=64)
def _digest(path: str, mtime_ns: int) -> str:
    del mtime_ns  # part of the cache key
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
