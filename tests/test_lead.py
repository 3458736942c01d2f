"""Answers lead with the answer: the best-supported sentence first, no title or heading lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.models import Passage, SpanIndex
from index.sentences import Sentence
from rag import Engine
from rag.citations import is_heading

DATA = Path(__file__).parent / "data"
NOTES = Path(__file__).parents[1] / "eval" / "datasets" / "trust" / "documents"


def test_the_figure_that_answers_leads_the_answer(engine: Engine) -> None:
    engine.ingest([DATA / "cold-plasma-wound-healing.pdf"])
    answer = engine.ask("By how much did cold plasma treatment reduce wound area?")
    assert not answer.abstained
    assert "68%" in answer.citations[0].quote


def test_a_text_files_title_line_is_never_quoted(engine: Engine) -> None:
    notes = NOTES / "sleep-memory-lecture-notes.txt"
    engine.ingest([notes])
    title = notes.read_text().splitlines()[0]
    for question in (
        "What is known about sleep and memory consolidation?",
        "What are lecture notes?",
    ):
        answer = engine.ask(question)
        assert all(c.quote != title for c in answer.citations), answer.answer
        assert all(c.quote != "Sleep architecture" for c in answer.citations)


def _passage(text: str) -> Passage:
    return Passage(
        chunk_id="d#0",
        doc_id="d",
        title="Sleep and memory consolidation: lecture notes",
        source="d",
        text=text,
        start=0,
        end=len(text),
        page=1,
        score=1.0,
        spans=SpanIndex(),
    )


@pytest.mark.parametrize(
    ("text", "sentence", "heading"),
    [
        ("Sleep architecture\n\nA night has cycles.", "Sleep architecture", True),
        (
            "Intro.\n\nSleep and memory consolidation: lecture notes\n\nText.",
            "Sleep and memory consolidation: lecture notes",
            True,
        ),
        (
            "A night has four to six cycles of sleep\n\nNext.",
            "A night has four to six cycles of sleep",
            True,
        ),
        ("A night has cycles. Each lasts 90 minutes.", "Each lasts 90 minutes.", False),
        ("Cycles last 90 minutes.\n\nNext.", "Cycles last 90 minutes.", False),
    ],
)
def test_lines_of_their_own_without_a_full_stop_are_headings(
    text: str, sentence: str, heading: bool
) -> None:
    start = text.index(sentence)
    got = is_heading(Sentence(start, start + len(sentence), sentence), _passage(text))
    assert got is heading


def test_a_best_sentence_longer_than_the_word_budget_does_not_break_the_answer(
    engine: Engine, tmp_path: Path
) -> None:
    long = "Wound area fell " + " ".join(f"by {n}% in group {n}" for n in range(40)) + "."
    (tmp_path / "trial.txt").write_text(
        f"Results\n\n{long} Plasma treatment reduced the wound area in every group.\n"
    )
    engine.ingest([tmp_path / "trial.txt"])
    answer = engine.ask("By how much did plasma treatment reduce the wound area?")
    assert answer.abstained or all(len(c.quote.split()) <= 120 for c in answer.citations)
