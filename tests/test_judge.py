"""The LLM judge of answerability, against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from llm_server import LLMServer, Reply, llm_server

from index.settings import AnswerSettings, LLMSettings
from rag import Engine

QUESTION = "Where are MSCs obtained from?"


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    with llm_server() as s:
        yield s


@pytest.fixture
def llm(server: LLMServer) -> LLMServer:
    server.requests.clear()
    server.script = Reply()
    return server


def judging(base: Engine, server: LLMServer, *, mode: str = "extractive") -> Engine:
    settings = base.settings.model_copy(
        update={
            "llm": LLMSettings(base_url=server.url, timeout_s=10),
            "answer": AnswerSettings(mode=mode, judge="on"),
        }
    )
    return Engine(settings, store=base.store, embedder=base.embedder)


def judge_says(answerable: bool | str, written: str = "MSCs come from bone marrow.") -> object:
    """A script: the judge's JSON for requests that ask for it, `written` otherwise."""

    def reply(body: dict) -> Reply:
        if "response_format" in body:
            verdict = answerable if isinstance(answerable, str) else json.dumps(answerable)
            return Reply(chunks=[f'{{"answerable": {verdict}, "passage": 1}}'])
        return Reply(chunks=[written])

    return reply


def test_a_judge_that_finds_no_answer_makes_the_extractive_answer_abstain(bundled_engine, llm):
    plain = bundled_engine.ask(QUESTION)
    assert not plain.abstained
    llm.script = judge_says(False)
    answer = judging(bundled_engine, llm).ask(QUESTION)
    assert answer.abstained and answer.judged_answerable is False
    assert answer.citations == [] and answer.passages  # the closest passages stay listed
    (request,) = llm.requests
    assert request.body["response_format"]["type"] == "json_schema"
    assert request.body["temperature"] == 0.0


def test_a_judge_that_finds_the_answer_keeps_the_extractive_answer(bundled_engine, llm):
    llm.script = judge_says(True)
    answer = judging(bundled_engine, llm).ask(QUESTION)
    assert not answer.abstained and answer.judged_answerable is True
    assert answer.mode == "extractive" and answer.citations
    assert answer.answer == bundled_engine.ask(QUESTION).answer


def test_the_judge_reads_the_passages_the_writer_reads_then_the_writer_writes(bundled_engine, llm):
    llm.script = judge_says(True)
    answer = judging(bundled_engine, llm, mode="generative").ask(QUESTION)
    assert answer.mode == "generative" and answer.judged_answerable is True
    judge, writer = llm.requests
    assert "response_format" in judge.body and "response_format" not in writer.body
    # One system prompt and one passage block: a server's prompt cache reuses the prefix.
    assert judge.body["messages"][0] == writer.body["messages"][0]
    ask, tell = judge.body["messages"][1]["content"], writer.body["messages"][1]["content"]
    cut = ask.index("Question:")
    assert ask[:cut] == tell[:cut] and "Passages:" in ask[:cut]


def test_a_judge_that_answers_out_of_form_falls_back_to_the_support_score(bundled_engine, llm):
    llm.script = judge_says('"maybe"')
    answer = judging(bundled_engine, llm).ask(QUESTION)
    assert not answer.abstained and answer.judged_answerable is None
    assert answer.notice and "judged by the support score alone" in answer.notice
    assert "\n" not in answer.notice


def test_a_question_below_the_floor_is_abstained_on_without_asking_the_judge(bundled_engine, llm):
    llm.script = judge_says(True)
    answer = judging(bundled_engine, llm).ask("What is the airspeed of an unladen swallow?")
    assert answer.abstained and answer.judged_answerable is None
    assert llm.requests == []


def test_without_a_judge_no_llm_is_asked_for_extractive_answers(bundled_engine, llm):
    settings = bundled_engine.settings.model_copy(
        update={"llm": LLMSettings(base_url=llm.url), "answer": AnswerSettings(judge="auto")}
    )
    engine = Engine(settings, store=bundled_engine.store, embedder=bundled_engine.embedder)
    assert not engine.ask(QUESTION).abstained
    assert llm.requests == []


def test_a_judge_asked_for_without_an_llm_says_so_and_answers_as_before(bundled_engine):
    settings = bundled_engine.settings.model_copy(update={"answer": AnswerSettings(judge="on")})
    engine = Engine(settings, store=bundled_engine.store, embedder=bundled_engine.embedder)
    answer = engine.ask(QUESTION)
    assert answer.answer == bundled_engine.ask(QUESTION).answer
    assert answer.notice and "judging answerability needs an LLM" in answer.notice
