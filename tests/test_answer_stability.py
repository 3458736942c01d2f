"""An answer rests on the question and the paper, not on what else happens to be indexed."""

from __future__ import annotations

import shutil
from pathlib import Path

from eval.datasets import read_jsonl
from eval.trust import corpora
from index.settings import BUNDLED_CORPUS
from rag import Engine

TRUST = Path(__file__).parents[1] / "eval" / "datasets" / "trust" / "questions.jsonl"


def _answers(engine: Engine, questions: list[str]) -> list[tuple[bool, frozenset[str]]]:
    out = []
    for question in questions:
        a = engine.ask(question)
        out.append((a.abstained, frozenset(c.quote for c in a.citations)))
    return out


def test_answers_on_the_bundled_article_stay_the_same_with_unrelated_papers_and_a_copy(
    engine: Engine, tmp_path: Path
) -> None:
    # The trust set's questions on the bundled article, answerable and not: with idf over
    # the index, 9 of these 21 changed (the headline question among them) once 20 unrelated
    # abstracts and a copy were added.
    questions = [q.question for q in read_jsonl(TRUST) if q.id.startswith("trust-msc-")]
    engine.ingest([BUNDLED_CORPUS])
    alone = _answers(engine, questions)
    copy = tmp_path / "copy-of-the-msc-review.txt"
    shutil.copy(BUNDLED_CORPUS, copy)
    files = corpora(tmp_path / "files")
    unrelated = [f for f in files["unrelated"] if f not in files["alone"]]
    assert engine.ingest([*unrelated, copy]).ok
    changed = [
        q for q, a, b in zip(questions, alone, _answers(engine, questions), strict=True) if a != b
    ]
    assert changed == []
