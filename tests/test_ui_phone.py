"""The web UI on a phone (390×844) in Debian Chromium: `papertrail serve` in a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_fixtures import app_page, chromium, screenshot, served

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TIMEOUT = 30_000
LONG_TITLE = "Basal ganglia output reflects internally specified movements in monkeys"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("ui-phone")
    with served(workdir / "index", workdir / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def phone(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    with app_page(context, server, timeout=TIMEOUT) as page:
        yield page
    context.close()


def test_tapping_a_marker_scrolls_to_its_open_source(phone: Any) -> None:
    box = phone.locator("#pt-question textarea")
    box.fill("What are the barriers to MSC standardisation?")
    box.press("Enter")
    marker = phone.locator('#pt-transcript .pt-cite[data-n="2"]')
    marker.wait_for(timeout=TIMEOUT)
    card = phone.locator('#pt-sources .pt-source[data-n="2"]')
    expect(card).not_to_be_in_viewport()  # the sources are far below the answer
    screenshot(phone, "6-phone-answer")

    marker.tap()
    expect(card).to_have_attribute("open", "")
    expect(card.locator(".pt-passage mark.pt-quote")).to_be_in_viewport()
    screenshot(phone, "6-phone-marker-tapped")


def test_the_question_placeholder_fits_its_box(phone: Any) -> None:
    # The locator waits for the box; a bare querySelector raced the page's first render.
    spare = phone.locator("#pt-question textarea").evaluate(
        """(box) => {
          const style = getComputedStyle(box);
          const pen = document.createElement('canvas').getContext('2d');
          pen.font = `${style.fontSize} ${style.fontFamily}`;
          const room = box.clientWidth - parseFloat(style.paddingLeft)
            - parseFloat(style.paddingRight);
          return room - pen.measureText(box.placeholder).width;
        }"""
    )
    assert spare >= 0, f"placeholder is {-spare:.0f}px wider than the box"


def test_document_titles_wrap_between_words(phone: Any, tmp_path: Path) -> None:
    doc = tmp_path / "basal-ganglia.md"
    doc.write_text(f"# {LONG_TITLE}\n\nThe substantia nigra pars reticulata fires in bursts.\n")
    phone.get_by_role("tab", name="Documents").click()
    phone.locator("#pt-upload input[type=file]").set_input_files([str(doc)])
    phone.locator("#pt-upload-report .pt-report").wait_for(timeout=60_000)
    cell = phone.locator('#pt-documents tr[data-doc-id="basal-ganglia.md"] .pt-doc-title')
    expect(cell).to_contain_text(LONG_TITLE)
    split = cell.evaluate(
        """(cell) => {
          const text = cell.firstChild;  // the title, before the file name
          const words = [];
          let at = 0;
          for (const word of text.data.split(' ')) {
            const range = document.createRange();
            range.setStart(text, at);
            range.setEnd(text, at + word.length);
            if (range.getClientRects().length > 1) words.push(word);
            at += word.length + 1;
          }
          return words;
        }"""
    )
    assert split == [], f"words broken across lines: {split}"
    sideways = phone.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert sideways <= 0
    screenshot(phone, "6-phone-documents")
