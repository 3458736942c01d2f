"""Scoped questions and example questions in Debian Chromium: `papertrail serve` subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_fixtures import VIEWPORT, app_page, chromium, screenshot, served

from ui.examples import BUNDLED_EXAMPLES

pytestmark = pytest.mark.browser

TIMEOUT = 30_000
REEF = "Reef survey notes"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("ui-scope")
    with served(workdir / "index", workdir / "serve.log") as url:
        yield url


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    with chromium() as browser:
        with app_page(browser.new_context(viewport=VIEWPORT), server, timeout=TIMEOUT) as page:
            yield page


def test_examples_follow_the_documents_and_a_scoped_question_searches_only_its_choice(
    page: Any, tmp_path: Path
) -> None:
    examples = page.locator("#pt-examples .pt-example")
    expect(examples).to_have_text(list(BUNDLED_EXAMPLES))  # only the bundled article so far

    notes = tmp_path / "reef-notes.md"
    notes.write_text(
        f"# {REEF}\n\n## Coral bleaching thresholds\n\nCorals bleach when the water stays "
        "above 30 degrees for a week.\n\n## Sampling\n\nSamples were obtained from the "
        "northern reef at low tide.\n",
        encoding="utf-8",
    )
    page.get_by_role("tab", name="Documents").click()
    page.locator("#pt-upload input[type=file]").set_input_files([str(notes)])
    page.locator("#pt-upload-report .pt-report").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Chat").click()
    expect(examples.filter(has_text="coral bleaching thresholds")).to_have_count(1)

    page.locator("#pt-scope input").click()
    page.get_by_role("option", name=REEF).click()
    page.keyboard.press("Escape")
    box = page.locator("#pt-question textarea")
    box.fill("Where are MSCs obtained from?")
    box.press("Enter")
    turn = page.locator("#pt-transcript .pt-turn").first
    turn.wait_for(timeout=TIMEOUT)
    expect(turn.locator(".pt-scope")).to_have_text(f"Searched only: {REEF}")
    titles = page.locator("#pt-sources .pt-turn-sources:not([hidden]) .pt-source .pt-title")
    expect(titles.first).to_be_visible()
    assert set(titles.all_inner_texts()) == {REEF}
    screenshot(page, "8-chat-scoped-question")


def test_the_dark_mode_switch_darkens_the_page_and_is_remembered(page: Any) -> None:
    def background() -> list[int]:
        colour = page.locator(".pt-transcript").evaluate("e => getComputedStyle(e).backgroundColor")
        return [int(x) for x in colour[colour.index("(") + 1 : -1].split(",")[:3]]

    assert sum(background()) > 600  # Chromium's headless default is light
    switch = page.locator("#pt-theme")
    switch.click()
    expect(switch).to_have_text("Light mode")
    assert sum(background()) < 200
    page.reload()
    page.wait_for_selector("#pt-transcript .pt-transcript", timeout=TIMEOUT)
    expect(page.locator("#pt-theme")).to_have_text("Light mode")
    assert sum(background()) < 200
    screenshot(page, "9-chat-dark-mode")
    page.locator("#pt-theme").click()
    expect(page.locator("#pt-theme")).to_have_text("Dark mode")
    assert sum(background()) > 600
