"""Follow-up questions without an LLM (rag.followup), on the real engine and bundled article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import read_corpus
from eval.followups import (
    CONVERSATIONS,
    POLICIES,
    FollowupRun,
    Second,
    corpus,
    followup_metrics,
    read_conversations,
)
from eval.metrics import normalize_answer
from rag import Answer, Engine
from rag.followup import is_follow_up, quoted, standalone

BARRIERS = "What are the barriers to MSC standardisation?"


def _quotes(answer: Answer) -> list[str]:
    return [c.quote for c in answer.citations]


def test_ethics_follow_up_does_not_repeat_the_first_answer(bundled_engine: Engine) -> None:
    first = bundled_engine.ask(BARRIERS)
    assert not first.abstained and len(first.citations) >= 3
    second = bundled_engine.ask("What about the ethical ones?", [(BARRIERS, first.answer)])
    assert not second.abstained
    assert "ethics, law and economy" in second.answer
    assert not set(_quotes(second)) & set(_quotes(first))
    assert second.searched and "MSC" in second.searched


def test_follow_up_answer_leaves_out_what_the_last_answer_quoted(bundled_engine: Engine) -> None:
    # "Why?" adds no words of its own: searched alone with the topic it would find the
    # first answer again; the answer says something new instead.
    first = bundled_engine.ask(BARRIERS)
    second = bundled_engine.ask("Why?", [(BARRIERS, first.answer)])
    assert not second.abstained and second.citations
    assert not set(_quotes(second)) & set(_quotes(first))


def test_self_contained_question_after_another_gets_its_answer_alone(
    bundled_engine: Engine,
) -> None:
    first = bundled_engine.ask(BARRIERS)
    after = bundled_engine.ask("Where are MSCs obtained from?", [(BARRIERS, first.answer)])
    alone = bundled_engine.ask("Where are MSCs obtained from?")
    assert after.searched is None
    assert after.answer == alone.answer
    assert _quotes(after) == _quotes(alone)


def test_pronoun_follow_up_is_searched_with_the_last_topic(bundled_engine: Engine) -> None:
    question = "What are mesenchymal stem cells used to treat?"
    first = bundled_engine.ask(question)
    second = bundled_engine.ask("What are their sources?", [(question, first.answer)])
    assert second.searched is not None and "mesenchymal stem cells" in second.searched
    assert "bone marrow, fat, and cord blood" in second.answer
    assert second.question == "What are their sources?"


@pytest.mark.parametrize(
    "question",
    [
        "What about the ethical ones?",
        "And anxiety?",
        "Why not?",
        "By how much?",
        "What are their sources?",
        "How effective was it?",
        "Which immune cells do they interact with?",
        "Side effects?",
    ],
)
def test_questions_leaning_on_the_last_turn_are_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "Where are MSCs obtained from?",
        "What are MSCs and how are they obtained?",
        "What diseases can MSCs treat, such as lupus?",
        "What is the mean incubation period of COVID-19?",
    ],
)
def test_questions_naming_their_topic_are_searched_as_asked(question: str) -> None:
    assert standalone(question, [(BARRIERS, "Some answer. [1]")]) == question


def test_follow_up_chain_keeps_the_first_topic() -> None:
    history = [(BARRIERS, "a [1]"), ("What about the ethical ones?", "b [1]")]
    assert "MSC" in standalone("Why?", history)


def test_quoted_sentences_are_read_back_from_an_extractive_answer() -> None:
    answer = "Sources are limited. [1] This limits use [12]. [2] Costs [5, 6] matter. [3]"
    assert quoted(answer) == [
        "Sources are limited.",
        "This limits use [12].",
        "Costs [5, 6] matter.",
    ]
    assert quoted("The indexed documents do not answer this question.") == []


def test_conversation_set_gold_answers_occur_in_their_documents(tmp_path: Path) -> None:
    rows = read_conversations(CONVERSATIONS)
    assert len(rows) >= 20
    assert {r.needs_context for r in rows} == {True, False}
    texts = {
        f.document.doc_id: normalize_answer(f.document.text) for f in read_corpus(corpus(tmp_path))
    }
    for r in rows:
        assert len(r.turns) == 2, r.id
        assert any(normalize_answer(a) in texts[r.doc_id] for a in r.answers), r.id


def test_followup_metrics_count_repeated_first_answer_sentences() -> None:
    rows = read_conversations(CONVERSATIONS)[:1]
    c = rows[0]
    seconds = [
        Second(
            id=c.id,
            policy=p,
            searched=c.turns[1],
            abstained=False,
            answer=f"{c.answers[0]} [1]",
            quotes=["a", "b"] if p == "previous" else ["c"],
            first_quotes=["a", "b", "x"],
        )
        for p in ("previous", "followup", "alone")
    ]
    metrics = followup_metrics(FollowupRun(split="all", conversations=rows, seconds=seconds))
    assert metrics["previous"]["repeated_sentences"] == 2.0
    assert metrics["followup"]["repeated_sentences"] == 0.0
    assert metrics["followup"]["answer_contains"] == 1.0


def test_papertrail_eval_followups_writes_the_side_by_side_figures(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ui.cli import app

    args = ["eval", "followups", "--split", "dev", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "followups.json").read_text())["metrics"]
    assert set(POLICIES) <= set(metrics)
    assert metrics["all"]["conversations"] == 14
    for policy in POLICIES:
        assert 0.0 <= metrics[policy]["answer_contains"] <= 1.0
    assert metrics["alone"]["rewritten_follow_ups"] == 0.0
