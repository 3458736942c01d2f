"""The support score behind abstention: cosine plus the question's term coverage."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedding import WordVectors, load_embedder
from index.keyword import everyday_terms, general_weights
from index.models import Passage, SpanIndex
from index.settings import Settings
from rag.answer import support, word_match


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


def test_an_everyday_word_the_text_lacks_counts_less_than_a_rare_one() -> None:
    passages = [_passage("b", "Mortality in the trial fell.")]
    everyday = support(passages, 0.5, WEIGHTS, {"remdesivir"})
    rare = support(passages, 0.5, WEIGHTS, set())
    assert everyday > rare
    assert everyday < support([_passage("a", "Remdesivir mortality trial.")], 0.5, WEIGHTS, set())


def test_term_weights_follow_general_english_rarity_not_the_index() -> None:
    weights = general_weights("Which imaging method tracks mesenchymal stem cells?")
    assert weights["mesenchym"] > weights["imag"] > weights["method"]
    assert "which" not in weights and "track" in weights


def test_everyday_words_are_those_a_user_may_paraphrase() -> None:
    everyday = everyday_terms("Is burnout one of the barriers to MSC standardisation?")
    assert "barrier" in everyday
    assert not {"burnout", "msc", "standard"} & everyday


@pytest.mark.parametrize("cosine", [0.2, 0.5, 0.8])
def test_support_rises_with_the_best_sentence_cosine(cosine: float) -> None:
    passages = [_passage("a", "Remdesivir lowered mortality.")]
    assert support(passages, cosine + 0.1, WEIGHTS, set()) > support(
        passages, cosine, WEIGHTS, set()
    )


@pytest.fixture(scope="module")
def word_vectors() -> WordVectors:
    return WordVectors(load_embedder(Settings()))


def test_a_paraphrased_word_finds_a_near_word_and_another_subject_does_not(
    word_vectors: WordVectors,
) -> None:
    text = [_passage("a", "Insomnia was measured with the Insomnia Severity Index in nurses.")]
    paraphrase = word_match("Which index measured sleeplessness in nurses?", text, word_vectors)
    other_subject = word_match("Which index measured caffeine in nurses?", text, word_vectors)
    assert paraphrase > other_subject + 0.1
    assert word_match("Which index measured insomnia in nurses?", text, word_vectors) == 1.0


def test_word_vectors_are_remembered_and_returned_in_order(word_vectors: WordVectors) -> None:
    first = word_vectors(["insomnia", "nurses"])
    again = word_vectors(["nurses", "insomnia"])
    assert np.allclose(first[::-1], again)
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0)
