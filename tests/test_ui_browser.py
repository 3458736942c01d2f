"""The web UI in a real browser: `papertrail serve` in a subprocess, Debian Chromium.

Expected quotes come from the Engine on the same index (computed before the server
starts), never from this file. Screenshots land in artifacts/screenshots/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_fixtures import VIEWPORT, app_page, chromium, engine_answers, screenshot, served

from rag import Settings

pytestmark = pytest.mark.browser

MSC_QUESTION = "What are the barriers to MSC standardisation?"
# Answered from a paraphrase with weak support (the Engine's own answer decides, below).
WEAK_QUESTION = "Why is growing mesenchymal stem cells in the lab a problem?"
BUNDLED_TITLE = "Mesenchymal stem cells in autoimmune diseases"
TIMEOUT = 30_000  # ms; an answer takes about two seconds


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-browser")


@pytest.fixture(scope="module")
def expected(workdir: Path) -> dict[str, dict[str, Any]]:
    return engine_answers(workdir / "index", [MSC_QUESTION, WEAK_QUESTION])


@pytest.fixture(scope="module")
def server(workdir: Path, expected: dict[str, Any]) -> Iterator[str]:
    with served(workdir / "index", workdir / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh session (new browser context) at 1280×800; page errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    with app_page(context, server, timeout=TIMEOUT) as page:
        yield page
    context.close()


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, wait for its answer; returns the new turn."""
    turns = page.locator("#pt-transcript .pt-turn")
    before = turns.count()
    box = page.locator("#pt-question textarea")
    box.fill(question)
    box.press("Enter")
    turn = turns.nth(before)
    turn.wait_for(timeout=TIMEOUT)
    return turn


def open_tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page: Any, *files: Path) -> Any:
    open_tab(page, "Documents")
    page.locator("#pt-upload input[type=file]").set_input_files([str(f) for f in files])
    report = page.locator("#pt-upload-report .pt-report")
    report.wait_for(timeout=60_000)
    return report


def assert_clean_layout(page: Any) -> None:
    """Nothing scrolls sideways, and the chat and sources columns do not overlap."""
    widths = page.evaluate(
        """() => [...document.querySelectorAll('body, .pt-sources, .pt-transcript, .pt-page')]
            .filter((e) => e.offsetParent !== null || e === document.body)
            .map((e) => [e.className || e.tagName, e.scrollWidth, e.clientWidth])"""
    )
    for name, scroll, client in widths:
        assert scroll <= client + 1, f"{name} scrolls horizontally ({scroll} > {client})"
    chat = page.locator("#pt-transcript").bounding_box()
    sources = page.locator("#pt-sources").bounding_box()
    if chat and sources:
        assert chat["x"] + chat["width"] <= sources["x"], (chat, sources)


def test_serve_banner_names_the_url_and_never_suggests_a_public_link(
    server: str, workdir: Path
) -> None:
    log = workdir / "serve.log"
    deadline = time.monotonic() + 10  # printed once launch returns; HTTP may answer first
    while f"PaperTrail: serving {server}" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"PaperTrail: serving {server}" in log.read_text()
    assert "share=True" not in log.read_text()


def test_clicking_a_marker_shows_the_quoted_sentence_highlighted(
    page: Any, expected: dict[str, Any]
) -> None:
    screenshot(page, "1-chat-empty")
    turn = ask(page, MSC_QUESTION)
    answer = expected[MSC_QUESTION]
    assert turn.locator(".pt-bot").inner_text().strip() == answer["answer"]
    assert turn.locator(".pt-cite").count() == len(answer["citations"]) >= 1
    screenshot(page, "1-chat-answer")

    turn.locator('.pt-cite[data-n="1"]').click()
    card = page.locator('#pt-sources .pt-source[data-n="1"][open]')
    mark = card.locator(".pt-passage mark.pt-quote")
    mark.wait_for(state="visible", timeout=TIMEOUT)
    first = answer["citations"][0]
    assert mark.inner_text() == first["quote"]
    assert (
        card.locator(".pt-where")
        .inner_text()
        .startswith(f"p. {first['page_label'] or first['page']}")
    )
    assert BUNDLED_TITLE in card.locator(".pt-title").inner_text()
    assert_clean_layout(page)
    screenshot(page, "1-chat-marker-clicked")

    card.locator(".pt-context > summary").click()
    context = card.locator(".pt-page")
    context.wait_for(state="visible")
    assert context.locator(".pt-ctx-passage mark.pt-quote").inner_text() == first["quote"]
    assert_clean_layout(page)
    screenshot(page, "1-chat-show-in-document")


def test_a_marker_in_an_earlier_answer_brings_back_that_answers_sources(page: Any) -> None:
    first = ask(page, MSC_QUESTION)
    ask(page, "Where are MSCs obtained from?")
    sources = page.locator("#pt-sources")
    turn = '#pt-sources .pt-turn-sources[data-turn="{}"]'
    expect(page.locator(turn.format(1))).to_be_visible()
    expect(page.locator(turn.format(0))).to_be_hidden()

    first.locator('.pt-cite[data-n="1"]').click()
    expect(page.locator(turn.format(0))).to_be_visible()
    expect(page.locator(turn.format(1))).to_be_hidden()
    mark = sources.locator('.pt-source[data-turn="0"][data-n="1"] .pt-passage mark')
    expect(mark).to_be_in_viewport()
    screenshot(page, "1-chat-earlier-answer-sources")


def test_uploaded_pdf_is_cited_with_its_page_then_removed_after_confirmation(
    page: Any, make_pdf: Any
) -> None:
    pdf = make_pdf(
        "lindqvist-report.pdf",
        [
            ["Annual report of the Lindqvist observatory.", "The telescope was serviced."],
            ["The Lindqvist observatory counted 4127 meteors during the Perseid shower."],
        ],
        title="Lindqvist observatory annual report",
    )
    report = upload(page, pdf)
    assert "lindqvist-report.pdf: indexed" in report.inner_text()
    documents = page.locator("#pt-documents")
    expect(documents).to_contain_text("Lindqvist observatory annual report")
    screenshot(page, "2-documents-uploaded")

    open_tab(page, "Chat")
    turn = ask(page, "How many meteors did the Lindqvist observatory count?")
    turn.locator('.pt-cite[data-n="1"]').click()
    card = page.locator('#pt-sources .pt-source[data-n="1"][open]')
    card.wait_for(timeout=TIMEOUT)
    assert "Lindqvist observatory annual report" in card.locator(".pt-title").inner_text()
    assert card.locator(".pt-where").inner_text().startswith("p. 2")
    assert "4127 meteors" in card.locator(".pt-passage mark.pt-quote").inner_text()
    screenshot(page, "2-chat-cites-page-2")

    open_tab(page, "Documents")
    page.locator("#pt-remove-choice input").click()
    page.get_by_role("option", name="lindqvist-report.pdf", exact=False).click()
    page.locator("#pt-remove").click()
    confirm = page.locator("#pt-confirm")
    confirm.wait_for(state="visible", timeout=TIMEOUT)
    expect(confirm).to_contain_text("Lindqvist observatory annual report")
    assert "Lindqvist" in documents.inner_text()  # nothing removed before confirming
    screenshot(page, "2-documents-confirm-removal")

    page.locator("#pt-confirm-yes").click()
    page.locator("#pt-remove-notice .pt-notice").wait_for(timeout=TIMEOUT)
    page.wait_for_function(
        "() => !document.querySelector('#pt-documents').innerText.includes('Lindqvist')",
        timeout=TIMEOUT,
    )
    assert BUNDLED_TITLE in documents.inner_text()
    assert confirm.is_hidden()
    screenshot(page, "2-documents-removed")


def test_corrupt_pdf_shows_an_error_naming_the_file_and_keeps_the_list(
    page: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-scan.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n% truncated here")
    report = upload(page, broken)
    failure = report.locator(".pt-fail")
    assert "broken-scan.pdf" in failure.inner_text()
    assert "not a readable PDF" in failure.inner_text()
    assert "Traceback" not in report.inner_text()
    expect(page.locator("#pt-documents")).to_contain_text(BUNDLED_TITLE)
    screenshot(page, "3-documents-corrupt-pdf")


def test_html_inside_a_document_is_shown_as_text_and_never_runs(page: Any, tmp_path: Path) -> None:
    doc = tmp_path / "zephyrine-notes.html"
    doc.write_text(
        "<html><head><title>Zephyrine lattice notes</title></head><body>"
        "<script>window.__pwned = 1</script>"
        '<img src=x onerror="window.__pwned2=1">'
        "<p>The zephyrine lattice constant measured by the Okonkwo group is 7.31 angstroms, "
        'logged as &lt;img src=x onerror="window.__pwned3=1"&gt; &lt;b&gt;7.31&lt;/b&gt; '
        "&lt;script&gt;window.__pwned4=1&lt;/script&gt; in the raw file.</p>"
        "<p>Zephyrine crystals glow faintly blue under ultraviolet light.</p></body></html>",
        encoding="utf-8",
    )
    assert "zephyrine-notes.html: indexed" in upload(page, doc).inner_text()
    open_tab(page, "Chat")
    turn = ask(page, "What is the zephyrine lattice constant measured by the Okonkwo group?")
    turn.locator('.pt-cite[data-n="1"]').click()
    mark = page.locator('#pt-sources .pt-source[data-n="1"][open] .pt-passage mark')
    mark.wait_for(state="visible", timeout=TIMEOUT)
    page.locator('#pt-sources .pt-source[data-n="1"] .pt-context > summary').click()
    page.wait_for_timeout(300)  # give any injected handler the chance to fire

    for flag in ("__pwned", "__pwned2", "__pwned3", "__pwned4"):
        assert page.evaluate(f"() => typeof window.{flag}") == "undefined", flag
    literal = '<img src=x onerror="window.__pwned3=1"> <b>7.31</b>'
    assert literal in turn.inner_text()
    assert literal in mark.inner_text()
    assert page.locator("#pt-transcript img, #pt-sources img, #pt-sources b").count() == 0
    screenshot(page, "4-chat-escaped-html")


def test_an_answer_with_weak_support_says_so_under_the_answer(
    page: Any, expected: dict[str, dict[str, Any]]
) -> None:
    weak, strong = expected[WEAK_QUESTION], expected[MSC_QUESTION]
    assert weak["weak_support"] and not weak["abstained"], "pick a weakly supported question"
    assert not strong["weak_support"]
    turn = ask(page, WEAK_QUESTION)
    note = turn.locator(".pt-weak")
    expect(note).to_contain_text(f"Weak support ({weak['evidence_score']:.2f})")
    expect(note).to_contain_text("check them")
    assert turn.locator(".pt-cite").count() == len(weak["citations"])  # still answered
    assert ask(page, MSC_QUESTION).locator(".pt-weak").count() == 0
    assert_clean_layout(page)
    screenshot(page, "5-chat-weak-support")


def test_off_topic_question_abstains_and_shows_closest_passages(page: Any) -> None:
    turn = ask(page, "What is the capital of France?")
    bubble = turn.locator(".pt-abstained")
    assert "do not answer this question" in bubble.inner_text()
    assert turn.locator(".pt-cite").count() == 0
    sources = page.locator("#pt-sources")
    assert "not sufficient to answer" in sources.locator(".pt-insufficient-note").inner_text()
    assert sources.locator(".pt-badge-warn").count() >= 1
    assert_clean_layout(page)
    screenshot(page, "5-chat-abstention")

    page.get_by_text("Session settings").click()
    settings = page.locator("#pt-settings")
    defaults = Settings()  # what the server was started with
    for value in (defaults.answer.max_words, defaults.retrieval.top_k):
        expect(settings).to_contain_text(f"Default {value}.")
    expect(settings).to_contain_text(f"Default {defaults.retrieval.keyword_weight} ")
    assert_clean_layout(page)
    screenshot(page, "5-chat-settings")

    box = page.locator("#pt-question textarea")
    box.fill("   ")
    box.press("Enter")
    notice = page.locator("#pt-notice .pt-notice")
    notice.wait_for(timeout=TIMEOUT)
    assert "question is empty" in notice.inner_text()
    screenshot(page, "5-chat-empty-question")

    page.get_by_role("button", name="New chat").click()
    page.locator("#pt-transcript .pt-empty").wait_for(timeout=TIMEOUT)
    assert page.locator("#pt-transcript .pt-turn").count() == 0
