"""Generated answers through a real OpenAI-compatible HTTP server on loopback (scripted).

The engine runs on the bundled MSC article with the real embedder and Chroma; only the
LLM is scripted (tests/llm_server.py), so these check the protocol, the streaming, the
verdicts and the fallbacks, not any model's wording.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from llm_server import LLMServer, Reply, llm_server, passage_number

from index.settings import AnswerSettings, LLMSettings
from rag import Engine

QUESTION = "Where are MSCs obtained from?"
SOURCES = "obtained from tissues such as bone marrow"  # words of the passage that answers
LUPUS = "Ben-Ami et al. (2011) proposed"
KEY = "sk-canary-7f3a9c1e5b"


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    with llm_server() as s:
        yield s


@pytest.fixture
def llm(server: LLMServer) -> LLMServer:
    server.requests.clear()
    server.script = Reply()
    return server


def generative(
    base: Engine, server: LLMServer, *, unsupported: str = "flag", timeout_s: float = 10
) -> Engine:
    """An engine on the bundled index that writes answers with the scripted LLM."""
    settings = base.settings.model_copy(
        update={
            "llm": LLMSettings(base_url=server.url, api_key=KEY, timeout_s=timeout_s),
            "answer": AnswerSettings(mode="generative", unsupported=unsupported),
        }
    )
    return Engine(settings, store=base.store, embedder=base.embedder)


def citing(*sentences: tuple[str, str | None], delay_s: float = 0.0) -> object:
    """A script answering with `sentences`, each cited to the passage holding its words."""

    def reply(body: dict) -> Reply:
        chunks = []
        for text, words in sentences:
            marker = f" [{passage_number(body, words)}]" if words else ""
            chunks += [text[: len(text) // 2], text[len(text) // 2 :] + marker + ". "]
        return Reply(chunks=chunks, delay_s=delay_s)

    return reply


def test_answer_streams_in_chunks_and_each_sentence_is_checked_as_it_completes(bundled_engine, llm):
    llm.script = citing(
        (
            "MSCs are usually obtained from tissues such as bone marrow, fat, and cord blood",
            SOURCES,
        ),
        ("Sources of MSCs are limited", SOURCES),
    )
    events = list(generative(bundled_engine, llm).ask_stream(QUESTION))
    kinds = [e.kind for e in events]
    deltas = [e.text for e in events if e.kind == "delta"]
    assert len(deltas) == 4 and kinds[-1] == "answer"
    # The first sentence's verdict comes while the second is still being written.
    assert kinds.index("claim") < len(kinds) - 1 - kinds[::-1].index("delta")
    answer = events[-1].answer
    assert answer.mode == "generative" and not answer.abstained and answer.notice is None
    assert [c.verdict for c in answer.claims] == ["supported", "supported"]
    assert len(llm.streamed) == 1


def test_every_marker_is_a_citation_whose_quote_is_at_its_offsets(bundled_engine, llm):
    llm.script = citing(
        (
            "MSCs are usually obtained from tissues such as bone marrow, fat, and cord blood",
            SOURCES,
        ),
        ("MSCs could alleviate the symptoms of systemic lupus erythematosus", LUPUS),
    )
    answer = generative(bundled_engine, llm).ask(QUESTION)
    assert [c.n for c in answer.citations] == [1, 2]
    for claim in answer.claims:
        assert answer.answer[claim.start : claim.end] == claim.text
        assert claim.quote is not None and claim.quote.n in claim.cites
        assert f"[{claim.quote.n}]" in claim.text
    for c in answer.citations:
        assert c.passage[c.quote_start : c.quote_end] == c.quote
    assert "bone marrow" in answer.citations[0].quote
    assert "lupus" in answer.citations[1].quote


def test_a_sentence_without_a_marker_is_cited_to_the_passage_that_states_it(bundled_engine, llm):
    llm.script = citing(
        ("MSCs are usually obtained from tissues such as bone marrow, fat, and cord blood", None),
        ("MSC therapy was first approved on the Moon in 1850", None),
    )
    answer = generative(bundled_engine, llm).ask(QUESTION)
    assert [c.verdict for c in answer.claims] == ["supported", "unsupported"]
    first, second = answer.claims
    assert first.cites == [1] and first.text.endswith("[1]")
    assert answer.answer[first.start : first.end] == first.text
    assert "bone marrow" in answer.citations[0].quote
    assert second.cites == [] and "[" not in second.text


def test_a_claim_its_passage_does_not_state_is_unsupported(bundled_engine, llm):
    llm.script = citing(
        (
            "MSCs are usually obtained from tissues such as bone marrow, fat, and cord blood",
            SOURCES,
        ),
        ("Pfizer now grows MSCs in the liver of Wistar rats at no cost", SOURCES),
    )
    answer = generative(bundled_engine, llm).ask(QUESTION)
    assert [c.verdict for c in answer.claims] == ["supported", "unsupported"]
    assert answer.claims[1].reason


@pytest.mark.parametrize(("year", "verdict"), [("2011", "supported"), ("2015", "unsupported")])
def test_a_changed_number_makes_the_claim_unsupported(bundled_engine, llm, year, verdict):
    llm.script = citing(
        (
            f"Ben-Ami et al. ({year}) proposed that MSCs could alleviate the symptoms of "
            "systemic lupus erythematosus",
            LUPUS,
        ),
    )
    answer = generative(bundled_engine, llm).ask("Can MSCs treat systemic lupus erythematosus?")
    assert [c.verdict for c in answer.claims] == [verdict]
    if verdict == "unsupported":
        assert year in answer.claims[0].reason


def test_a_reason_names_the_marker_the_reader_sees(bundled_engine, llm):
    # Both sentences cite the same passage; the second's marker becomes [2] in the answer.
    llm.script = citing(
        (
            "MSCs are usually obtained from tissues such as bone marrow, fat, and cord blood",
            SOURCES,
        ),
        ("MSCs from bone marrow cost 1850 dollars per dose", SOURCES),
    )
    answer = generative(bundled_engine, llm).ask(QUESTION)
    second = answer.claims[1]
    assert second.verdict == "unsupported" and second.cites == [2]
    assert "[2]" in second.reason and "[1]" not in second.reason


def test_an_answer_with_no_verified_sentence_falls_back_to_the_extractive_one(bundled_engine, llm):
    llm.script = citing(("Pfizer now grows MSCs in the liver of Wistar rats at no cost", SOURCES))
    answer = generative(bundled_engine, llm).ask(QUESTION)
    assert answer.mode == "extractive" and answer.answer == bundled_engine.ask(QUESTION).answer
    assert "no sentence the LLM wrote is stated by the passages" in answer.notice
    assert [c.verdict for c in answer.claims] == ["unsupported"]  # kept for whoever checks


def test_unsupported_sentences_can_be_removed_from_the_text(bundled_engine, llm):
    llm.script = citing(
        (
            "MSCs are usually obtained from tissues such as bone marrow, fat, and cord blood",
            SOURCES,
        ),
        ("Pfizer now grows MSCs in the liver of Wistar rats at no cost", SOURCES),
    )
    answer = generative(bundled_engine, llm, unsupported="remove").ask(QUESTION)
    assert "Pfizer" not in answer.answer and "bone marrow" in answer.answer
    assert [c.verdict for c in answer.claims] == ["supported", "unsupported"]
    assert [c.n for c in answer.citations] == [1]


def test_an_unsupported_question_is_abstained_without_calling_the_llm(bundled_engine, llm):
    llm.script = citing(("MSCs are obtained from bone marrow", SOURCES))
    answer = generative(bundled_engine, llm).ask(
        "What is the boiling point of liquid nitrogen at sea level?"
    )
    assert answer.abstained
    assert llm.requests == []


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (Reply(status=500), "HTTP 500"),
        (Reply(chunks=[f"word{i} " for i in range(12)], cut_off=True), "cut off"),
        (Reply(chunks=[f"word{i} " for i in range(6)], malformed=True), "malformed"),
        (Reply(first_delay_s=3), "did not answer within 1 s"),
    ],
    ids=["http-500", "cut-off", "malformed", "timeout"],
)
def test_a_failing_llm_gives_the_extractive_answer_and_a_one_line_notice(
    bundled_engine, llm, reply, says
):
    llm.script = reply
    events = list(generative(bundled_engine, llm, timeout_s=1).ask_stream(QUESTION))
    answer = events[-1].answer
    assert answer.mode == "extractive" and not answer.abstained and answer.citations
    assert answer.notice and says in answer.notice and "\n" not in answer.notice
    assert "extractive answer" in answer.notice
    assert KEY not in answer.model_dump_json()


def test_an_unreachable_llm_gives_the_extractive_answer(bundled_engine):
    settings = bundled_engine.settings.model_copy(
        update={
            "llm": LLMSettings(base_url="http://127.0.0.1:9/v1", timeout_s=2),
            "answer": AnswerSettings(mode="generative"),
        }
    )
    engine = Engine(settings, store=bundled_engine.store, embedder=bundled_engine.embedder)
    answer = engine.ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations
    assert answer.notice.startswith("cannot reach the LLM at http://127.0.0.1:9/v1")


def test_generative_mode_without_an_llm_says_so_and_answers_extractively(bundled_engine):
    settings = bundled_engine.settings.model_copy(
        update={"answer": AnswerSettings(mode="generative")}
    )
    engine = Engine(settings, store=bundled_engine.store, embedder=bundled_engine.embedder)
    answer = engine.ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations
    assert "PAPERTRAIL_LLM__BASE_URL" in answer.notice


def test_a_slow_llm_does_not_hold_up_another_question(bundled_engine, llm):
    slow = citing(("MSCs are obtained from bone marrow", SOURCES), delay_s=1.5)

    def script(body: dict) -> Reply:
        if "lupus" in body["messages"][-1]["content"].rsplit("Question:", 1)[-1]:
            return citing((LUPUS.split(" proposed")[0] + " studied lupus", LUPUS))(body)
        return slow(body)

    llm.script = script
    engine = generative(bundled_engine, llm)
    done: dict[str, float] = {}

    def ask_slowly() -> None:
        engine.ask(QUESTION)
        done["slow"] = time.monotonic()

    started = time.monotonic()
    thread = threading.Thread(target=ask_slowly)
    thread.start()
    time.sleep(0.5)  # the slow answer is being streamed
    quick = engine.ask("Can MSCs treat systemic lupus erythematosus?")
    done["quick"] = time.monotonic()
    thread.join(30)
    assert quick.mode == "generative"
    assert done["quick"] < done["slow"]
    assert done["slow"] - started >= 2.5  # two chunks of 1.5 s each, then the rest


def test_a_follow_up_is_condensed_by_the_llm_and_searched(bundled_engine, llm):
    standalone = "What are the ethical considerations of MSC treatment?"

    def script(body: dict) -> Reply:
        if not body.get("stream"):
            return Reply(chunks=[standalone])
        return citing(
            ("MSCs treatment involves multiple aspects such as ethics, law and economy", "ethics")
        )(body)

    llm.script = script
    history = [(QUESTION, "Bone marrow, fat and cord blood [1].")]
    events = list(
        generative(bundled_engine, llm).ask_stream("What about the ethical ones?", history)
    )
    assert events[0].kind == "searched" and events[0].text == standalone
    answer = events[-1].answer
    assert answer.searched == standalone and answer.question == "What about the ethical ones?"
    condense = llm.requests[0].body
    assert not condense.get("stream") and QUESTION in condense["messages"][-1]["content"]
    assert "ethics" in answer.citations[0].quote


def test_the_api_key_is_sent_as_a_bearer_token_and_never_shown(bundled_engine, llm):
    llm.script = Reply(status=401)
    answer = generative(bundled_engine, llm).ask(QUESTION)
    assert llm.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "HTTP 401" in answer.notice
    assert KEY not in answer.model_dump_json()


def test_the_api_key_stays_out_of_debug_logs(bundled_engine, llm, caplog):
    llm.script = citing(("MSCs are obtained from bone marrow", SOURCES))
    with caplog.at_level(logging.DEBUG):
        generative(bundled_engine, llm).ask(QUESTION)
        llm.script = Reply(status=401)
        generative(bundled_engine, llm).ask(QUESTION)
    assert llm.requests and caplog.records  # the client did log its requests
    assert KEY not in caplog.text


def test_an_answer_cut_at_max_tokens_says_so(bundled_engine, llm):
    def script(body: dict) -> Reply:
        reply = citing(("MSCs are usually obtained from tissues such as bone marrow", SOURCES))(
            body
        )
        reply.chunks.append("They are also")
        reply.finish_reason = "length"
        return reply

    llm.script = script
    answer = generative(bundled_engine, llm).ask(QUESTION)
    assert answer.mode == "generative" and answer.claims[0].verdict == "supported"
    assert "limit of 512 tokens" in answer.notice and "\n" not in answer.notice
