"""The answer-trust set: its data hold together, and its metrics count what they claim."""

from __future__ import annotations

import json
from pathlib import Path

from eval.datasets import dev_half, read_jsonl
from eval.metrics import normalize_answer
from eval.models import EvalQuestion
from eval.trust import Asked, TrustRun, trust_metrics
from index.cleaning import clean
from index.loaders import load_file
from index.settings import BUNDLED_CORPUS

DATASETS = Path(__file__).parents[1] / "eval" / "datasets"
TRUST = DATASETS / "trust"
QUESTIONS = read_jsonl(TRUST / "questions.jsonl")


def _home_texts() -> dict[str, str]:
    texts = {BUNDLED_CORPUS.name: clean(load_file(BUNDLED_CORPUS)).text}
    for path in (TRUST / "documents").iterdir():
        if path.suffix in (".pdf", ".txt"):
            texts[path.name] = clean(load_file(path)).text
    covid = json.loads((DATASETS / "covid-qa" / "covid-qa-200423.json").read_text())["data"]
    for a in covid:
        p = a["paragraphs"][0]
        texts[f"covid-qa-{p['document_id']}.txt"] = p["context"]
    return texts


def test_the_set_has_sixty_questions_a_third_unanswerable_and_unique_ids() -> None:
    assert len(QUESTIONS) >= 60
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    unanswerable = sum(not q.answerable for q in QUESTIONS)
    assert 0.25 <= unanswerable / len(QUESTIONS) <= 0.5


def test_every_key_fact_occurs_in_its_gold_document() -> None:
    texts = _home_texts()
    for q in QUESTIONS:
        if not q.answerable:
            continue
        assert q.gold is not None and q.gold.doc_id in texts, q.id
        document = f" {normalize_answer(texts[q.gold.doc_id])} "
        assert any(f" {normalize_answer(a)} " in document for a in q.answers), q.id


def test_both_halves_hold_answerable_and_unanswerable_questions() -> None:
    dev = dev_half([q.id for q in QUESTIONS])
    for half in (True, False):
        mine = [q for q in QUESTIONS if (q.id in dev) == half]
        assert any(q.answerable for q in mine) and any(not q.answerable for q in mine)


def _asked(qid: str, condition: str, quotes: list[str], *, abstained: bool = False) -> Asked:
    return Asked(
        id=qid,
        condition=condition,
        abstained=abstained,
        evidence_score=0.5,
        answer=" ".join(f"{q} [{n}]" for n, q in enumerate(quotes, 1)),
        quotes=quotes,
    )


def test_stability_counts_a_question_stable_only_when_all_three_answers_agree() -> None:
    questions = [
        EvalQuestion(id="a", question="?", answers=["bone marrow"]),
        EvalQuestion(id="u", question="?", answerable=False),
    ]
    asked = [
        _asked("a", "alone", ["From bone marrow.", "And fat."]),
        _asked("a", "distractors", ["And fat.", "From bone marrow."]),  # same set
        _asked("a", "duplicates", ["From bone marrow."]),  # one sentence fewer
        *(_asked("u", c, [], abstained=True) for c in ("alone", "distractors", "duplicates")),
    ]
    m = trust_metrics(TrustRun(split="all", questions=questions, asked=asked))
    assert m["all"]["stability"] == 0.5
    assert m["alone"]["false_abstention_rate"] == 0.0
    assert m["alone"]["abstention_accuracy"] == 1.0
    assert m["alone"]["lead_contains"] == 1.0
