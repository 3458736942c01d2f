"""Saved conversations in Debian Chromium: they survive a reload, can be opened, renamed,
deleted, and exported or copied as Markdown with their citations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_fixtures import VIEWPORT, app_page, chromium, engine_answers, screenshot, served

pytestmark = pytest.mark.browser

FIRST = "What are the barriers to MSC standardisation?"
SECOND = "Where are MSCs obtained from?"
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-conversations")


@pytest.fixture(scope="module")
def expected(workdir: Path) -> dict[str, dict[str, Any]]:
    return engine_answers(workdir / "index", [FIRST])


@pytest.fixture(scope="module")
def server(workdir: Path, expected: dict[str, Any]) -> Iterator[str]:
    with served(workdir / "index", workdir / "serve.log") as url:
        yield url


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    """One browser profile (its localStorage) for the whole test, clipboard allowed."""
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        with app_page(context, server, timeout=TIMEOUT) as page:
            yield page


def ask(page: Any, question: str) -> Any:
    turns = page.locator("#pt-transcript .pt-turn")
    before = turns.count()
    box = page.locator("#pt-question textarea")
    box.fill(question)
    box.press("Enter")
    turns.nth(before).wait_for(timeout=TIMEOUT)
    return turns.nth(before)


def saved_as(page: Any, title: str) -> None:
    """Wait until the conversation list shows the open conversation under `title`."""
    page.wait_for_function(
        "t => document.querySelector('#pt-conversation-choice input').value.startsWith(t)",
        arg=title,
        timeout=TIMEOUT,
    )


def chosen(page: Any) -> str:
    return page.locator("#pt-conversation-choice input").input_value()


def choose(page: Any, title: str) -> None:
    page.locator("#pt-conversation-choice input").click()
    page.get_by_role("option", name=title, exact=False).click()


def test_a_chat_survives_a_reload_and_past_ones_can_be_reopened(page: Any) -> None:
    ask(page, FIRST)
    saved_as(page, FIRST)
    page.reload()
    turn = page.locator("#pt-transcript .pt-turn")
    turn.first.wait_for(timeout=TIMEOUT)
    assert FIRST in turn.first.inner_text()
    assert chosen(page).startswith(FIRST)
    expect(page.locator('#pt-sources .pt-source[data-n="1"]')).to_be_visible()

    page.get_by_role("button", name="New chat").click()
    page.locator("#pt-transcript .pt-empty").wait_for(timeout=TIMEOUT)
    ask(page, SECOND)
    saved_as(page, SECOND)
    choose(page, FIRST)
    expect(page.locator("#pt-transcript .pt-turn .pt-user")).to_have_text([FIRST])
    screenshot(page, "7-conversations-reopened")


def test_rename_and_delete_a_conversation(page: Any) -> None:
    ask(page, SECOND)
    page.get_by_text("Rename, delete or export this conversation").click()
    page.locator("#pt-title-box textarea, #pt-title-box input").first.fill("Where MSCs come from")
    page.locator("#pt-rename").click()
    saved_as(page, "Where MSCs come from")
    expect(page.locator("#pt-export")).to_contain_text("# Where MSCs come from")
    page.reload()
    page.locator("#pt-transcript .pt-turn").first.wait_for(timeout=TIMEOUT)
    assert chosen(page).startswith("Where MSCs come from")

    page.get_by_text("Rename, delete or export this conversation").click()
    page.locator("#pt-delete").click()
    page.locator("#pt-transcript .pt-empty").wait_for(timeout=TIMEOUT)
    page.locator("#pt-conversation-choice input").click()
    expect(page.get_by_role("option", name="Where MSCs come from", exact=False)).to_have_count(0)


def test_an_answer_copies_as_markdown_with_document_page_section_and_quote(
    page: Any, expected: dict[str, Any]
) -> None:
    turn = ask(page, FIRST)
    saved_as(page, FIRST)
    turn.locator(".pt-copy").click()
    expect(turn.locator(".pt-copy")).to_have_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    answer = expected[FIRST]
    assert copied.startswith(f"**Q:** {FIRST}\n\n{answer['answer']}\n")
    for c in answer["citations"]:
        page_ = c["page_label"] or c["page"]
        assert f"[{c['n']}] *{c['title']}*, p. {page_}, § {c['section']}" in copied
        assert f"> “{' '.join(c['quote'].split())}”" in copied
    page.get_by_text("Rename, delete or export this conversation").click()
    export = page.locator("#pt-export")
    expect(export).to_contain_text(f"# {FIRST}")
    expect(export).to_contain_text(answer["citations"][0]["quote"][:40])
    screenshot(page, "7-conversation-export")
