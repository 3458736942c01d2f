"""Answers lead with the answer: the best-supported sentence first, no title or heading lines."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from eval.datasets import read_jsonl
from index.models import Passage, SpanIndex
from index.sentences import Sentence
from rag import Engine
from rag.answer import _LIST_ITEM, _REFERS_BACK, _is_title_line

DATA = Path(__file__).parent / "data"
NOTES = Path(__file__).parents[1] / "eval" / "datasets" / "trust" / "documents"


def test_the_figure_that_answers_leads_the_answer(engine: Engine) -> None:
    engine.ingest([DATA / "cold-plasma-wound-healing.pdf"])
    answer = engine.ask("By how much did cold plasma treatment reduce wound area?")
    assert not answer.abstained
    assert "68%" in answer.citations[0].quote
    assert answer.answer.startswith(answer.citations[0].quote)


def test_a_text_files_title_line_is_never_quoted(engine: Engine) -> None:
    notes = NOTES / "sleep-memory-lecture-notes.txt"
    engine.ingest([notes])
    title = notes.read_text().splitlines()[0]
    for question in (
        "Which kind of sleep is best for remembering facts?",
        "What do place cells do while an animal sleeps?",
        "What is known about sleep and memory consolidation?",
    ):
        answer = engine.ask(question)
        assert all(c.quote != title for c in answer.citations), answer.answer


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
    ("text", "sentence", "title"),
    [
        ("Sleep architecture\n\nA night has cycles.", "Sleep architecture", True),
        (
            "Intro.\n\nSleep and memory consolidation: lecture notes\n\nText.",
            "Sleep and memory consolidation: lecture notes",
            True,
        ),
        (
            "Sleep and memory consolidation: lecture notes. A night has cycles.",
            "Sleep and memory consolidation: lecture notes.",
            True,  # the document's title, though it runs on
        ),
        ("A night has cycles. Each lasts 90 minutes.", "Each lasts 90 minutes.", False),
        ("Cycles last 90 minutes.\n\nNext.", "Cycles last 90 minutes.", False),
        (  # a line ending in a bracket is a sentence
            "Results\n\nWound area fell by 68% (p < 0.01)\n\nNext.",
            "Wound area fell by 68% (p < 0.01)",
            False,
        ),
    ],
)
def test_title_and_heading_lines_are_told_from_sentences(
    text: str, sentence: str, title: bool
) -> None:
    start = text.index(sentence)
    got = _is_title_line(Sentence(start, start + len(sentence), sentence), _passage(text))
    assert got is title


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


def test_an_answer_quotes_one_document(engine: Engine) -> None:
    from index.settings import BUNDLED_CORPUS

    engine.ingest([BUNDLED_CORPUS, DATA / "cold-plasma-wound-healing.pdf"])
    answer = engine.ask("What are the barriers to MSC standardisation?")
    assert not answer.abstained
    assert {c.doc_id for c in answer.citations} == {BUNDLED_CORPUS.name}


def _candidates(*texts: str) -> list:
    from rag.answer import _Candidate

    text = " ".join(texts)
    passage = _passage(text)
    out, start = [], 0
    for t in texts:
        out.append(_Candidate(passage, Sentence(start, start + len(t), t), start, len(t.split())))
        start += len(t) + 1
    return out


def test_the_best_sentence_leads_and_the_rest_keep_reading_order() -> None:
    from rag.answer import _lead_first

    intro, method, result = _candidates(
        "Trials compare wound area.", "Area was measured weekly.", "Area fell by 68%."
    )
    got = _lead_first(result, [intro, method, result])
    assert [c.sentence.text for c in got] == [
        "Area fell by 68%.",
        "Trials compare wound area.",
        "Area was measured weekly.",
    ]


def test_a_lead_that_refers_back_keeps_its_antecedent_before_it() -> None:
    from rag.answer import _lead_first

    intro, cause, effect, later = _candidates(
        "Cells are scarce.",
        "Isolation is slow and costly.",
        "This limits their clinical use.",
        "Trials are small.",
    )
    got = _lead_first(effect, [intro, cause, effect, later])
    assert [c.sentence.text for c in got][:2] == [
        "Isolation is slow and costly.",
        "This limits their clinical use.",
    ]


def test_a_sentence_that_refers_back_is_quoted_right_after_what_it_refers_to(
    bundled_engine: Engine,
) -> None:
    trust = Path(__file__).parents[1] / "eval" / "datasets" / "trust" / "questions.jsonl"
    questions = [q.question for q in read_jsonl(trust) if q.id.startswith("trust-msc-")]
    for question in questions:
        answer = bundled_engine.ask(question)
        for before, c in itertools.pairwise([None, *answer.citations]):
            if not _REFERS_BACK.match(c.quote):
                continue
            assert before is not None, answer.answer  # "This limits ..." never leads alone
            document = bundled_engine.document(c.doc_id)
            assert document is not None
            end = document.text.index(before.quote) + len(before.quote)
            assert document.text[end : document.text.index(c.quote)].strip() == "", answer.answer


REHAB = """# Patient experiences of cardiac rehabilitation

Patients attended weekly exercise sessions at two hospitals for six months.

Sessions were guided by a semistructured interview schedule, with questions covering:

(i) experience of the cardiac rehabilitation programme,

(ii) beliefs about their diagnosis of heart failure, and

(iii) the role of the family doctor in caring for them.

Quality of life improved after rehabilitation for most patients.
"""


def test_a_list_item_is_quoted_with_the_line_that_introduces_it(
    engine: Engine, tmp_path: Path
) -> None:
    notes = tmp_path / "rehab.md"
    notes.write_text(REHAB)
    engine.ingest([notes])
    lead_in = "Sessions were guided by a semistructured interview schedule"
    for question in (
        "What did the interview schedule ask about?",  # the lead-in leads: its items follow
        "Were patients asked about their beliefs about their heart failure diagnosis?",
    ):
        quotes = [c.quote for c in engine.ask(question).citations]
        assert quotes[0].startswith(lead_in), quotes
        assert any(q.startswith("(ii) beliefs") for q in quotes), quotes


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("(ii) beliefs about their diagnosis of heart failure, and", True),
        ("iv) the role of the GP in caring for patients.", True),
        ("• bone marrow, fat and cord blood", True),
        ("(1) HAdV-55 may cause severe ARDS in immunocompetent young men.", False),
        ("where T is the sum of incubation and infectious periods", False),
        ("(Figure 2) shows the design.", False),
    ],
)
def test_only_list_items_that_are_not_sentences_need_their_lead_in(text: str, item: bool) -> None:
    assert bool(_LIST_ITEM.match(text)) == item
