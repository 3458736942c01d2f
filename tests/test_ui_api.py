"""The web UI through its HTTP API (gradio_client), plus the HTML it renders.

One real app per module, launched in a thread on a temporary index.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import app_in_thread

from index.models import Answer, Citation, Document, PageSpan, Passage
from rag import Engine
from ui import render

# Gradio's own queue code trips pandas 3 deprecations; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

MSC_QUESTION = "What are the barriers to MSC standardisation?"
REPO_DATA = Path(__file__).resolve().parent / "data"
BUNDLED_TITLE = "Mesenchymal stem cells in autoimmune diseases"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    with app_in_thread(tmp_path_factory.mktemp("ui-api") / "index") as served:
        yield served


@pytest.fixture
def client(app: tuple[str, Engine]) -> Any:
    from gradio_client import Client

    return Client(app[0], verbose=False, analytics_enabled=False, download_files=False)


def chat(client: Any, question: str) -> tuple[str, str, str, str]:
    """The chat endpoint with the default session settings."""
    return client.predict(question, 120, 5, 0.65, api_name="/chat")


def test_chat_answer_has_markers_and_cites_the_bundled_article(client: Any) -> None:
    transcript, sources, question_box, notice = chat(client, MSC_QUESTION)
    assert 'class="pt-cite"' in transcript and ">[1]</button>" in transcript
    assert BUNDLED_TITLE in sources
    assert '<mark class="pt-quote">' in sources
    assert question_box == "" and notice == ""


def test_ask_endpoint_returns_the_engines_cited_answer(
    client: Any, app: tuple[str, Engine]
) -> None:
    got = client.predict(MSC_QUESTION, api_name="/ask")
    expected = app[1].ask(MSC_QUESTION).model_dump(mode="json")
    assert got["answer"] == expected["answer"]
    assert [c["quote"] for c in got["citations"]] == [c["quote"] for c in expected["citations"]]
    assert "[1]" in got["answer"] and got["citations"][0]["title"].startswith(BUNDLED_TITLE)


def test_chat_sources_highlight_each_citations_quote(client: Any, app: tuple[str, Engine]) -> None:
    _, sources, _, _ = chat(client, MSC_QUESTION)
    for c in app[1].ask(MSC_QUESTION).citations:
        assert f'<mark class="pt-quote">{html.escape(c.quote)}</mark>' in sources
        assert f"p. {c.page_label or c.page}" in sources


def test_follow_up_question_is_answered_with_history_and_clear_starts_over(
    client: Any, app: tuple[str, Engine]
) -> None:
    first = "What legal and ethical issues affect MSC therapy?"
    follow_up = "What about their cost?"
    chat(client, first)
    transcript, _, _, _ = chat(client, follow_up)
    engine = app[1]
    earlier = engine.ask(first)
    expected = engine.ask(follow_up, [(first, earlier.answer)])
    assert transcript.count('class="pt-turn"') == 2
    assert html.escape(expected.citations[0].quote) in transcript

    transcript, sources, _, _ = client.predict(api_name="/clear")
    assert "pt-turn" not in transcript and "after you ask a question" in sources


def test_blank_question_shows_a_message_not_a_traceback(client: Any) -> None:
    transcript, _, question_box, notice = chat(client, "   ")
    assert "question is empty" in notice and 'role="alert"' in notice
    assert "Traceback" not in notice + transcript
    assert question_box == "   "


def test_without_an_llm_the_chat_offers_no_switch_to_have_one_read_the_passages(
    app: tuple[str, Engine],
) -> None:
    import httpx

    llm = app[1].settings.llm
    assert not (llm.local or llm.base_url)  # Settings() here: no LLM configured
    config = httpx.get(f"{app[0]}config", timeout=30).raise_for_status().json()
    props = [c.get("props", {}) for c in config["components"]]
    switch = next(p for p in props if p.get("elem_id") == "pt-generate")
    # Not drawn, and its value (the configured extractive mode) is what /chat sends.
    assert switch["visible"] is False and switch["value"] is False


def test_upload_reports_each_file_and_new_document_is_searchable(
    client: Any, make_pdf: Any, tmp_path: Path
) -> None:
    from gradio_client import handle_file

    pdf = make_pdf(
        "tidal-survey.pdf",
        [["Tidal survey of the Varanger fjord."], [], ["The Varanger fjord tide peaked at 3.9 m."]],
        title="Varanger tidal survey",
    )
    broken = tmp_path / "broken-scan.pdf"
    broken.write_bytes(b"%PDF-1.4 truncated")
    report, documents, _, _ = client.predict(
        [handle_file(pdf), handle_file(broken)], "auto", api_name="/upload"
    )
    assert "tidal-survey.pdf</strong>: indexed" in report
    # A page with no text layer is OCR'd now (issue #26); blank, it still warns by page.
    assert "page 2 has no text that OCR could read" in report
    assert "broken-scan.pdf: not a readable PDF" in report
    assert "Varanger tidal survey" in documents and BUNDLED_TITLE in documents

    _, sources, _, _ = chat(client, "How high did the Varanger fjord tide peak?")
    assert "Varanger tidal survey" in sources and "p. 3" in sources


def test_a_long_ocr_upload_does_not_hold_up_questions(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import threading

    import pytesseract
    from gradio_client import handle_file
    from pypdf import PdfReader, PdfWriter

    entered, release = threading.Event(), threading.Event()
    read = pytesseract.image_to_data

    def held(*args: Any, **kwargs: Any) -> Any:  # Tesseract on a long scan's page
        entered.set()
        release.wait(120)
        return read(*args, **kwargs)

    monkeypatch.setattr(pytesseract, "image_to_data", held)
    scan = tmp_path / "held-scan.pdf"
    writer = PdfWriter(clone_from=PdfReader(REPO_DATA / "scans" / "specter-p2-scan.pdf"))
    writer.add_metadata({"/Subject": str(tmp_path)})  # new content: not in the OCR cache
    writer.write(scan)
    job = client.submit([handle_file(scan)], "auto", api_name="/upload")
    try:
        assert entered.wait(60), "the upload never reached OCR"
        _, sources, _, _ = chat(client, MSC_QUESTION)  # answered while a page is OCR'd
        assert BUNDLED_TITLE in sources
        assert not job.done()
    finally:
        release.set()
    report, _, _, _ = job.result(timeout=180)
    assert "held-scan.pdf</strong>: indexed" in report


def test_a_documents_details_are_corrected_from_the_ui_as_the_users_own(
    client: Any, app: tuple[str, Engine]
) -> None:
    engine = app[1]
    doc = next(d.doc_id for d in engine.documents() if d.title.startswith(BUNDLED_TITLE))
    title, _, year, venue, doi = client.predict(doc, api_name="/document_details")
    assert title.startswith(BUNDLED_TITLE) and year == ""
    notice, table, _ = client.predict(
        doc, title, "Li, Wei; Chen, Yan", "two thousand", venue, doi, api_name="/correct"
    )
    assert "Year must be a number" in notice
    notice, table, _ = client.predict(
        doc, title, "Li, Wei; Chen, Yan", "2024", venue, doi, api_name="/correct"
    )
    assert f"Saved authors, year for {doc}" in notice
    assert "Li and Chen (2024)" in table
    meta = next(d.metadata for d in engine.documents() if d.doc_id == doc)
    assert meta is not None and meta.year == 2024 and meta.sources["year"] == "user"
    assert client.predict(doc, api_name="/document_details")[1] == "Li, Wei; Chen, Yan"


# -- rendering, without a server ---------------------------------------------------------

EVIL = '<img src=x onerror="window.__pwned=1"><script>alert(1)</script>'


def _answer(quote: str, passage_text: str, title: str = "T") -> Answer:
    start = passage_text.index(quote)
    passage = Passage(
        chunk_id="d#0", doc_id="d", title=title, source="d", text=passage_text,
        start=10, end=10 + len(passage_text), page=2, page_label="128", section="4 Results",
        score=1.0,
    )  # fmt: skip
    citation = Citation(
        n=1, doc_id="d", title=title, source="d", page=2, page_label="128",
        section="4 Results", passage=passage_text, quote=quote, quote_start=start,
        quote_end=start + len(quote), chunk_id="d#0",
    )  # fmt: skip
    return Answer(
        question=f"Q {EVIL}", answer=f"{quote} [1]", abstained=False,
        citations=[citation], passages=[passage],
    )  # fmt: skip


def test_rendered_html_escapes_document_text_titles_and_questions() -> None:
    quote = f"The value is 7 {EVIL}."
    answer = _answer(quote, f"Intro {EVIL}. {quote} Outro.", title=f"Title {EVIL}")
    x = render.Exchange(answer)
    out = render.transcript_html([x]) + render.sources_html([x])
    assert "<img" not in out and "<script" not in out
    assert html.escape(EVIL) in out


def test_reference_numbers_inside_a_quote_are_not_made_into_markers() -> None:
    quote = "Earlier work [2] found the same."
    out = render.transcript_html([render.Exchange(_answer(quote, f"A. {quote} B."))])
    assert out.count('class="pt-cite"') == 1 and 'data-n="1"' in out
    assert "Earlier work [2] found" in out


def test_page_context_marks_the_passage_and_quote_on_the_cited_page() -> None:
    page1, page2 = "First page text.\n", "Second page. Key fact here. More text."
    doc = Document(
        doc_id="d", title="T", source="d", content_hash="h", text=page1 + page2,
        pages=[PageSpan(page=1, start=0), PageSpan(page=2, start=len(page1), label="128")],
    )  # fmt: skip
    start = len(page1) + page2.index("Key")
    passage = Passage(
        chunk_id="d#1", doc_id="d", title="T", source="d", text=doc.text[start:],
        start=start, end=len(doc.text), page=2, score=1.0,
    )  # fmt: skip
    ctx = render.page_context(doc, passage, (0, len("Key fact here.")))
    assert ctx is not None and ctx.page == "p. 128" and ctx.text == page2
    assert ctx.text[ctx.quote_start : ctx.quote_end] == "Key fact here."
    assert ctx.text[ctx.passage_start : ctx.passage_end] == page2[page2.index("Key") :]


def test_long_page_context_is_a_window_around_the_passage() -> None:
    filler = "lorem ipsum dolor sit amet " * 800  # about 21,600 characters on one page
    text = filler + "The key sentence sits here. " + filler
    doc = Document(
        doc_id="d", title="T", source="d", content_hash="h", text=text,
        pages=[PageSpan(page=1, start=0)],
    )  # fmt: skip
    start = len(filler)
    passage = Passage(
        chunk_id="d#9", doc_id="d", title="T", source="d", text=text[start : start + 27],
        start=start, end=start + 27, page=1, score=1.0,
    )  # fmt: skip
    ctx = render.page_context(doc, passage, (0, 27))
    assert ctx is not None and ctx.cut_before and ctx.cut_after
    assert len(ctx.text) < render.MAX_CONTEXT_CHARS
    assert ctx.text[ctx.quote_start : ctx.quote_end] == "The key sentence sits here."
