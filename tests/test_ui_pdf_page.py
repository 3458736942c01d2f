"""'Show in document' for a PDF citation: the rendered page with the quote highlighted.

The highlight is checked against pdfplumber's own character positions for the quote's
words (a different PDF reader from the one that drew the highlight), in real Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import VIEWPORT, app_in_thread, chromium, screenshot

pytestmark = pytest.mark.browser

PDF = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "pdfs" / "acl-2020-specter.pdf"
QUESTION = "Which loss function is used to train SPECTER on citation triplets?"
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    with app_in_thread(tmp_path_factory.mktemp("ui-pdf") / "index") as (url, engine):
        report = engine.ingest([PDF])
        assert report.ok, report
        yield url, engine


def _phrase_boxes(page_number: int, quote: str) -> list[tuple[float, float, float, float]]:
    """Boxes (fractions of the page, top-left origin) of the quote's first and last words,
    found by pdfplumber's text search (which runs this PDF's words together on some lines)."""
    import pdfplumber

    words = re.findall(r"[A-Za-z]{3,}", quote)
    phrases = [words[:3], words[-3:]]
    out = []
    with pdfplumber.open(PDF) as pdf:
        page = pdf.pages[page_number - 1]
        for phrase in phrases:
            for m in page.search(r"\W*".join(phrase), regex=True):
                out.append(
                    (
                        m["x0"] / page.width,
                        m["top"] / page.height,
                        m["x1"] / page.width,
                        m["bottom"] / page.height,
                    )
                )
    return out


def test_show_in_document_highlights_the_quote_on_the_rendered_pdf_page(
    app: tuple[str, Any],
) -> None:
    url, engine = app
    answer = engine.ask(QUESTION)
    assert not answer.abstained and answer.citations
    first = answer.citations[0]
    assert first.doc_id == engine.documents()[-1].doc_id or first.source.endswith(".pdf")
    expected = _phrase_boxes(first.page, first.quote)
    assert expected, "pdfplumber found none of the quote's words on the cited page"

    with chromium() as browser:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(url)
        box = page.locator("#pt-question textarea")
        box.wait_for(timeout=TIMEOUT)
        box.fill(QUESTION)
        box.press("Enter")
        page.locator('#pt-transcript .pt-cite[data-n="1"]').first.click(timeout=TIMEOUT)
        card = page.locator('#pt-sources .pt-source[data-n="1"][open]').last
        card.locator(".pt-context > summary").click()
        image = card.locator(".pt-pdfpage img")
        image.wait_for(state="visible", timeout=TIMEOUT)
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        card.locator(".pt-pdfpage").scroll_into_view_if_needed()
        screenshot(page, "pdf-show-in-document")
        rects = page.evaluate(
            """(card) => {
                const img = card.querySelector('.pt-pdfpage img').getBoundingClientRect();
                return [...card.querySelectorAll('.pt-hl')].map((e) => {
                    const r = e.getBoundingClientRect();
                    return [(r.left - img.left) / img.width, (r.top - img.top) / img.height,
                            (r.right - img.left) / img.width, (r.bottom - img.top) / img.height];
                });
            }""",
            card.element_handle(),
        )
    assert rects, "no highlight drawn over the page"
    slack = 0.004  # a fraction of the page: a pixel or two at this size

    def covered(x0: float, y0: float, x1: float, y1: float) -> bool:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return any(
            a - slack <= cx <= c + slack and b - slack <= cy <= d + slack for a, b, c, d in rects
        )

    hits = [covered(*b) for b in expected]
    assert any(hits), (expected, rects)
    # The highlight marks the quote's lines, not the page: a few lines' worth of area.
    area = sum((c - a) * (d - b) for a, b, c, d in rects)
    assert 0 < area < 0.12, area
