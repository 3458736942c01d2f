"""The answer-trust set: its data hold together, and its metrics count what they claim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval.calibrate import FEATURE_SETS, Fit, figures_by_dataset, fit, weak_cut
from eval.datasets import dev_half, read_jsonl
from eval.metrics import normalize_answer, reliability
from eval.models import EvalQuestion
from eval.trust import CONDITIONS, UNRELATED_TOPICS, Asked, TrustRun, corpora, trust_metrics
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


def _asked(
    qid: str, condition: str, quotes: list[str], *, abstained: bool = False, weak: bool = False
) -> Asked:
    return Asked(
        id=qid,
        condition=condition,
        abstained=abstained,
        evidence_score=0.5,
        weak_support=weak,
        answer=" ".join(f"{q} [{n}]" for n, q in enumerate(quotes, 1)),
        quotes=quotes,
    )


def test_stability_counts_a_question_stable_only_when_its_answers_agree() -> None:
    questions = [
        EvalQuestion(id="a", question="?", answers=["bone marrow"]),
        EvalQuestion(id="b", question="?", answers=["fat"]),
        EvalQuestion(id="u", question="?", answerable=False),
    ]
    asked = [
        _asked("a", "alone", ["From bone marrow.", "And fat."]),
        _asked("a", "unrelated", ["And fat.", "From bone marrow."]),  # same set
        _asked("a", "related", ["From bone marrow.", "And fat."]),
        _asked("a", "duplicates", ["From bone marrow."]),  # one sentence fewer
        _asked("b", "alone", ["And fat."]),
        _asked("b", "unrelated", ["And fat."]),
        _asked("b", "related", ["Fat, says another paper."]),  # a related paper answers
        _asked("b", "duplicates", ["And fat."]),
        *(_asked("u", c, [], abstained=True) for c in CONDITIONS),
    ]
    m = trust_metrics(TrustRun(split="all", questions=questions, asked=asked))
    assert m["all"]["stability"] == 2 / 3  # a differs with duplicates
    assert m["all"]["stability_related"] == 2 / 3  # b differs with related papers
    assert m["alone"]["false_abstention_rate"] == 0.0
    assert m["alone"]["abstention_accuracy"] == 1.0
    assert m["alone"]["lead_contains"] == 1.0


def test_weak_support_shares_count_only_the_answers_given() -> None:
    questions = [
        EvalQuestion(id="a", question="?", answers=["fat"]),
        EvalQuestion(id="b", question="?", answers=["fat"]),
        EvalQuestion(id="u", question="?", answerable=False),
        EvalQuestion(id="v", question="?", answerable=False),
        EvalQuestion(id="w", question="?", answerable=False),
    ]
    asked = [
        _asked("a", "alone", ["Fat."]),
        _asked("b", "alone", ["Fat."], weak=True),
        _asked("u", "alone", ["Fat."], weak=True),
        _asked("v", "alone", ["Fat."]),
        _asked("w", "alone", [], abstained=True),  # abstained: neither weak nor not
    ]
    m = trust_metrics(TrustRun(split="all", questions=questions, asked=asked))
    assert m["alone"]["weak_answerable"] == 0.5
    assert m["alone"]["weak_unanswerable"] == 0.5
    assert m["related"]["weak_answerable"] is None  # nothing asked there


def test_weak_cut_is_the_lowest_score_from_which_every_band_is_answerable() -> None:
    model = Fit(features=("x",), coef={"bias": 0.0, "x": 1.0}, threshold=0.2)

    def row(score: float, answerable: bool) -> dict:
        return {"x": float(np.log(score / (1 - score))), "answerable": answerable}

    rows = [row(0.1, False)]  # abstained: not an answer given
    rows += [row(0.3, False), row(0.35, True), row(0.56, False)]
    rows += [row(s, True) for s in (0.65, 0.75, 0.95, 0.97)]
    assert weak_cut(rows, model) == 0.6
    assert weak_cut(rows[:1] + rows[4:], model) == 0.2  # nothing unanswerable is answered
    assert weak_cut([*rows, row(0.99, False)], model, share=1.0) is None


def test_unrelated_documents_name_no_home_topic(tmp_path: Path) -> None:
    files = corpora(tmp_path)
    extra = [f for f in files["unrelated"] if f not in files["alone"]]
    assert len(extra) == 20
    assert not any(UNRELATED_TOPICS.search(f.read_text(encoding="utf-8")) for f in extra)


@pytest.mark.parametrize(
    ("scores", "answerable", "expected"),
    [
        ([0.05, 0.15, 0.95], [False, True, True], [("0.0-0.1", 1, 0.0), ("0.1-0.2", 1, 1.0)]),
        ([1.0, 0.92], [True, False], [("0.9-1.0", 2, 0.5)]),
    ],
)
def test_reliability_bins_report_the_share_answerable(
    scores: list[float], answerable: list[bool], expected: list[tuple[str, int, float]]
) -> None:
    curve = reliability(scores, answerable)
    got = [(b["bin"], b["n"], b["answerable"]) for b in curve]
    assert got[: len(expected)] == expected


def test_calibration_learns_that_support_means_answerable_within_the_benchmark_limits() -> None:
    features = FEATURE_SETS[0]
    rows = []
    for i in range(400):
        level = i / 400
        dataset = ("pubmedqa", "covid-qa", "trust-alone")[i % 3]
        if dataset == "covid-qa" and level <= 0.3:
            continue  # COVID-QA questions are all answerable
        rows.append(
            {
                "dataset": dataset,
                "id": str(i),
                "answerable": level > 0.3,
                "eligible": 1.0,
                **dict.fromkeys(features, level),
            }
        )
    got = fit(rows, features)
    assert got is not None
    assert all(got.coef[k] > 0 for k in features)
    figures = figures_by_dataset(rows, got)
    assert figures["pubmedqa"]["correct_abstention"] >= 0.89
    assert figures["pubmedqa"]["false_abstention"] <= 0.044
    assert figures["covid-qa"]["false_abstention"] <= 0.0232
