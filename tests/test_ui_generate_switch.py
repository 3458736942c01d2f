"""The chat's per-question switch between the quick extractive answer and one an LLM writes:
`papertrail serve` with an LLM configured (a scripted one on loopback) but extractive
answers by default; Chromium ticks the switch or leaves it, and the LLM's request log says
whether it was asked. Without an LLM the switch is absent (tests/test_ui_browser.py in
the browser; here its settings)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from llm_server import LLMServer, Reply, llm_server, passage_number
from playwright.sync_api import expect
from ui_fixtures import VIEWPORT, app_page, chromium, screenshot, served

from index.settings import AnswerSettings, LLMSettings
from rag import Settings
from ui.chat import _generate_switch

QUESTION = "Where are MSCs obtained from?"
SOURCE_WORDS = "obtained from tissues such as bone marrow"
GENERATED = "Sources of MSCs are usually obtained from tissues such as bone marrow"
WAIT = "Reading the passages with the LLM…"
# Long enough to see the wait on a busy 2-core machine, short enough for the test.
FIRST_DELAY_S = 4.0
TIMEOUT = 30_000


def script(body: dict[str, Any]) -> Reply:
    n = passage_number(body, SOURCE_WORDS)
    words = f"{GENERATED}, fat, and cord blood [{n}].".split(" ")
    return Reply(chunks=[w + " " for w in words], delay_s=0.05, first_delay_s=FIRST_DELAY_S)


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with llm_server() as server:
        server.script = script
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("ui-generate-switch")
    env = {"PAPERTRAIL_ANSWER__MODE": "extractive", "PAPERTRAIL_LLM__BASE_URL": llm.url}
    with served(workdir / "index", workdir / "serve.log", env=env) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh session (new browser context), so no earlier question is a follow-up."""
    context = browser.new_context(viewport=VIEWPORT)
    with app_page(context, server, timeout=TIMEOUT) as page:
        yield page
    context.close()


def submit(page: Any, question: str) -> Any:
    """Ask `question`; returns the answer bubble of its turn."""
    box = page.locator("#pt-question textarea")
    box.fill(question)
    box.press("Enter")
    return page.locator("#pt-transcript .pt-turn").last.locator(".pt-bot .pt-bubble")


@pytest.mark.parametrize(
    ("llm", "label", "why"),
    [
        (LLMSettings(local=True), "Read with the local model", "several seconds per answer"),
        (
            LLMSettings(base_url="http://127.0.0.1:9/v1"),
            "Read with the LLM",
            "than the quick answer",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["extractive", "generative"])
def test_the_switch_names_who_reads_and_starts_ticked_only_in_generative_mode(
    llm: LLMSettings, label: str, why: str, mode: Literal["extractive", "generative"]
) -> None:
    switch = _generate_switch(Settings(llm=llm, answer=AnswerSettings(mode=mode)))
    assert switch.visible is True and switch.label == label
    assert why in (switch.info or "") and "checked against its source" in (switch.info or "")
    assert switch.value is (mode == "generative")


def test_without_an_llm_the_switch_is_hidden_and_keeps_the_configured_mode() -> None:
    switch = _generate_switch(Settings(answer=AnswerSettings(mode="generative")))
    assert switch.visible is False and switch.value is True


@pytest.mark.browser
def test_unticked_switch_gives_the_quick_answer_and_never_asks_the_llm(
    page: Any, llm: LLMServer
) -> None:
    switch = page.locator("#pt-generate")
    expect(switch).to_be_visible()
    expect(switch).to_contain_text("Read with the LLM")
    expect(switch).to_contain_text("Every sentence is checked against its source")
    box = switch.get_by_role("checkbox")
    expect(box).not_to_be_checked()  # answer.mode is extractive
    before = len(llm.requests)

    bubble = submit(page, QUESTION)
    bubble.locator(".pt-cite").first.wait_for(timeout=TIMEOUT)
    expect(bubble).not_to_have_class(re.compile(r"\bpt-generated\b"))
    assert page.locator("#pt-transcript .pt-writing, #pt-transcript .pt-waiting").count() == 0
    assert llm.requests[before:] == []


@pytest.mark.browser
def test_ticked_switch_shows_the_wait_then_the_llms_answer_with_its_verdict(
    page: Any, llm: LLMServer
) -> None:
    box = page.locator("#pt-generate").get_by_role("checkbox")
    box.check()
    before = len(llm.streamed)

    bubble = submit(page, QUESTION)
    # Before the LLM's first words (it holds its reply back) the wait is on screen ...
    waiting = bubble.locator(".pt-waiting")
    waiting.wait_for(timeout=TIMEOUT)
    expect(waiting).to_have_text(WAIT)
    assert GENERATED not in bubble.inner_text()
    screenshot(page, "llm-switch-waiting")
    # ... and the streamed text takes its place.
    page.locator("#pt-transcript .pt-generated:not(.pt-writing)").wait_for(timeout=TIMEOUT)
    assert GENERATED in " ".join(bubble.inner_text().split())
    expect(bubble.locator(".pt-v-supported .pt-verdict")).to_have_text("✓")
    assert bubble.locator(".pt-waiting").count() == 0
    assert len(llm.streamed) == before + 1
    screenshot(page, "llm-switch-answered")
