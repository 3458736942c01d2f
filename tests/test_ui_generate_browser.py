"""A generated answer in a real browser: `papertrail serve` in generative mode against a
scripted LLM on loopback; Chromium watches the text stream in and the verdicts appear."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from llm_server import LLMServer, Reply, llm_server, passage_number
from ui_fixtures import VIEWPORT, app_page, chromium, screenshot, served

pytestmark = pytest.mark.browser

SLOW = "Where are MSCs obtained from?"
QUICK = "Which cytokines do MSCs secrete?"
SOURCE_WORDS = "obtained from tissues such as bone marrow"
KEY = "sk-canary-browser-93b1"
TIMEOUT = 30_000


def script(body: dict[str, Any]) -> Reply:
    question = body["messages"][-1]["content"].rsplit("Question:", 1)[-1]
    if "cytokines" in question:
        return Reply(chunks=["MSCs secrete cytokines [1]."])
    n = passage_number(body, SOURCE_WORDS)
    words = (
        f"Sources of MSCs are usually obtained from tissues such as bone marrow, fat, "
        f"and cord blood [{n}]. Pfizer grows MSCs in Wistar rats at no cost [{n}]. "
        "They are promising."
    ).split(" ")
    # One word every 0.35 s: about eight seconds to write, time to watch it.
    return Reply(chunks=[w + " " for w in words], delay_s=0.35)


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with llm_server() as server:
        server.script = script
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("ui-generate")
    env = {
        "PAPERTRAIL_ANSWER__MODE": "generative",
        "PAPERTRAIL_LLM__BASE_URL": llm.url,
        "PAPERTRAIL_LLM__API_KEY": KEY,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with served(workdir / "index", workdir / "serve.log") as url:
            yield url
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert KEY not in (workdir / "serve.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def submit(page: Any, question: str) -> None:
    box = page.locator("#pt-question textarea")
    box.fill(question)
    box.press("Enter")


def test_the_answer_streams_in_and_each_sentence_gets_its_verdict(
    browser: Any, server: str
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    with app_page(context, server, timeout=TIMEOUT) as page:
        submit(page, SLOW)
        bubble = page.locator("#pt-transcript .pt-turn").last.locator(".pt-bot .pt-bubble")
        writing = page.locator("#pt-transcript .pt-writing")
        writing.wait_for(timeout=TIMEOUT)
        # Part of the text is on screen while the rest is still being written ...
        page.wait_for_function(
            "() => { const p = document.querySelector('#pt-transcript .pt-writing');"
            " return p && p.textContent.includes('Sources of MSCs'); }",
            timeout=TIMEOUT,
        )
        seen_partial = bubble.inner_text()
        assert "They are promising" not in seen_partial
        # ... and the first sentence's verdict appears before the answer is complete.
        page.locator("#pt-transcript .pt-writing .pt-v-supported .pt-verdict").wait_for(
            timeout=TIMEOUT
        )
        assert writing.count() == 1
        screenshot(page, "llm-1-streaming")
        page.locator("#pt-transcript .pt-generated:not(.pt-writing)").wait_for(timeout=TIMEOUT)
        verdicts = bubble.locator(".pt-claim")
        assert verdicts.count() == 3
        classes = [verdicts.nth(i).get_attribute("class") for i in range(3)]
        # "They are promising." has no marker, and no passage states it.
        assert [c.split("pt-v-")[1] for c in classes] == [
            "supported",
            "unsupported",
            "unsupported",
        ]
        assert "not in [" in (
            bubble.locator(".pt-v-unsupported .pt-verdict").first.get_attribute("title") or ""
        )
        screenshot(page, "llm-2-checked")

        # A marker opens its source with the quote highlighted, as extractive answers do.
        bubble.locator('.pt-cite[data-n="1"]').click()
        mark = page.locator('#pt-sources .pt-source[data-n="1"][open] .pt-passage mark.pt-quote')
        mark.wait_for(state="visible", timeout=TIMEOUT)
        assert SOURCE_WORDS in " ".join(mark.inner_text().split())
        assert KEY not in page.content()
        screenshot(page, "llm-3-marker-clicked")
    context.close()


def test_another_session_is_answered_while_an_answer_is_being_written(
    browser: Any, server: str
) -> None:
    slow_context = browser.new_context(viewport=VIEWPORT)
    quick_context = browser.new_context(viewport=VIEWPORT)
    with (
        app_page(slow_context, server, timeout=TIMEOUT) as slow,
        app_page(quick_context, server, timeout=TIMEOUT) as quick,
    ):
        submit(slow, SLOW)
        slow.locator("#pt-transcript .pt-writing").wait_for(timeout=TIMEOUT)
        started = time.monotonic()
        submit(quick, QUICK)
        quick.locator("#pt-transcript .pt-turn .pt-bot .pt-bubble:not(.pt-writing)").wait_for(
            timeout=TIMEOUT
        )
        quick_s = time.monotonic() - started
        # The slow answer is still being written when the other session has its answer.
        assert slow.locator("#pt-transcript .pt-writing").count() == 1, quick_s
        slow.locator("#pt-transcript .pt-generated:not(.pt-writing)").wait_for(timeout=TIMEOUT)
    slow_context.close()
    quick_context.close()
