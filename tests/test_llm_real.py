"""The real local model (`make test-llm`; deselected by default): Qwen2.5-Coder-1.5B-Instruct
assembled from its packages and served by llama.cpp, as `--llm local` runs it.

They check what a user sees, never the model's wording: a cited answer to the bundled
article's headline question whose claims the verifier accepts, an abstention, streaming,
a server that died and is started again, and a CLI run with `--json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.settings import AnswerSettings
from rag import Engine
from rag.local_model import installed, local_server

pytestmark = pytest.mark.llm

HEADLINE = "What are the barriers to MSC standardisation?"
# Unanswerable from the bundled article (trust-msc-14): abstained on before the model writes.
NOT_ANSWERED = "What MSC dose was used in the phase III multiple sclerosis trial?"


@pytest.fixture(scope="module")
def engine(bundled_engine: Engine) -> Iterator[Engine]:
    settings = bundled_engine.settings.model_copy(
        update={
            "llm": bundled_engine.settings.llm.model_copy(update={"local": True}),
            "answer": AnswerSettings(mode="generative"),
        }
    )
    if not installed(settings.local_model):
        pytest.fail("the local model is not installed: run `make llm` (make test-llm does)")
    yield Engine(settings, store=bundled_engine.store, embedder=bundled_engine.embedder)


def test_the_headline_question_gets_a_generated_answer_with_verified_citations(
    engine: Engine,
) -> None:
    events = list(engine.ask_stream(HEADLINE))
    answer = events[-1].answer
    assert answer.mode == "generative", answer.notice
    assert not answer.abstained and answer.judged_answerable is True
    assert sum(e.kind == "delta" for e in events) > 1  # streamed
    kinds = [e.kind for e in events]
    assert kinds.index("claim") < len(kinds) - 1  # a verdict before the answer was complete
    assert answer.claims and all(c.text.strip() for c in answer.claims)
    supported = [c for c in answer.claims if c.verdict == "supported"]
    assert supported, [(c.text, c.verdict, c.reason) for c in answer.claims]
    for claim in answer.claims:
        assert answer.answer[claim.start : claim.end] == claim.text or claim.start == claim.end
    assert answer.citations
    for c in answer.citations:
        assert c.passage[c.quote_start : c.quote_end] == c.quote
    quoted = " ".join(c.quote for c in answer.citations).lower()
    assert "standardized evaluation system" in quoted or "sources of mscs" in quoted


def test_a_question_the_article_does_not_answer_is_abstained_on(engine: Engine) -> None:
    events = list(engine.ask_stream(NOT_ANSWERED))
    answer = events[-1].answer
    assert answer.abstained and answer.judged_answerable is not True
    assert answer.claims == [] and answer.citations == [] and answer.passages
    assert not any(e.kind == "delta" for e in events)  # the model wrote nothing


def test_a_server_that_died_is_started_again(engine: Engine) -> None:
    server = local_server(engine.settings.local_model)
    server.url()
    before = server.pid
    assert before is not None
    os.kill(before, 9)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.alive:
        time.sleep(0.1)  # until every one of its threads is gone
    restarts = server.restarts
    answer = engine.ask(HEADLINE)
    assert answer.mode == "generative", answer.notice
    assert server.restarts == restarts + 1 and server.pid not in (None, before)


def test_ask_with_the_local_model_prints_the_generated_answer_as_json(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("papertrail")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(cli), "ask", HEADLINE, "--llm", "local", "--json", "--index-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["mode"] == "generative" and not answer["abstained"]
    assert answer["claims"] and answer["citations"]
