"""The support score behind abstention: cosine plus the question's term coverage."""

from __future__ import annotations

import pytest

from index.models import Passage, SpanIndex
from rag.answer import support


def _passage(doc_id: str, text: str) -> Passage:
    return Passage(
        chunk_id=f"{doc_id}-0",
        doc_id=doc_id,
        title="",
        source=doc_id,
        text=text,
        start=0,
        end=len(text),
        page=1,
        score=1.0,
        spans=SpanIndex(pages=[], sections=[]),
    )


WEIGHTS = {"remdesivir": 3.0, "mortal": 1.0, "trial": 0.5}


def test_a_passage_with_the_rare_question_term_supports_more_than_one_without() -> None:
    with_drug = [_passage("a", "Remdesivir lowered mortality in the trial.")]
    without = [_passage("b", "Dexamethasone lowered mortality in the trial.")]
    assert support(with_drug, 0.6, WEIGHTS, set()) > support(without, 0.6, WEIGHTS, set())


def test_coverage_is_judged_per_document_not_pooled_across_documents() -> None:
    split = [_passage("a", "Remdesivir was given."), _passage("b", "Mortality in the trial.")]
    whole = [_passage("a", "Remdesivir was given."), _passage("a", "Mortality in the trial.")]
    assert support(whole, 0.5, WEIGHTS, set()) > support(split, 0.5, WEIGHTS, set())


def test_a_term_no_document_has_counts_less_than_one_that_is_merely_missing_here() -> None:
    passages = [_passage("b", "Mortality in the trial fell.")]
    unseen = support(passages, 0.5, WEIGHTS, {"remdesivir"})
    seen_elsewhere = support(passages, 0.5, WEIGHTS, set())
    assert unseen > seen_elsewhere
    assert unseen < support([_passage("a", "Remdesivir mortality trial.")], 0.5, WEIGHTS, set())


@pytest.mark.parametrize("cosine", [0.2, 0.5, 0.8])
def test_support_rises_with_the_best_sentence_cosine(cosine: float) -> None:
    passages = [_passage("a", "Remdesivir lowered mortality.")]
    assert support(passages, cosine + 0.1, WEIGHTS, set()) > support(
        passages, cosine, WEIGHTS, set()
    )
