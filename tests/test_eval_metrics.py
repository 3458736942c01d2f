"""Metric functions on hand-made cases whose values can be worked out on paper."""

import math

import pytest

from eval.metrics import (
    contains_answer,
    cosine,
    hit_at,
    mean,
    ndcg_at,
    normalize_answer,
    percentile,
    reciprocal_rank,
    strip_citation_marks,
    token_f1,
    token_recall,
)


def test_normalisation_drops_case_punctuation_and_articles() -> None:
    assert (
        normalize_answer("The  Bone-marrow, and AN adipose tissue!")
        == "bonemarrow and adipose tissue"
    )


def test_citation_marks_are_stripped_before_scoring() -> None:
    assert strip_citation_marks("MSCs come from fat [1]. And cord blood [2] [3].") == (
        "MSCs come from fat. And cord blood."
    )


@pytest.mark.parametrize(
    ("prediction", "references", "expected"),
    [
        ("They come from the bone marrow.", ["bone marrow"], True),
        ("They come from bone marrowless sources.", ["bone marrow"], False),  # whole words only
        ("Anything at all", [""], False),  # an empty reference is never contained
        ("", ["bone marrow"], False),
        ("fat", [], False),
    ],
)
def test_contains_answer(prediction: str, references: list[str], expected: bool) -> None:
    assert contains_answer(prediction, references) is expected


def test_token_f1_matches_hand_computation() -> None:
    # prediction tokens: cord blood and fat (4); gold: bone marrow fat cord blood (5); common 3
    precision, recall = 3 / 4, 3 / 5
    expected = 2 * precision * recall / (precision + recall)
    assert token_f1("Cord blood and fat.", ["bone marrow, fat, cord blood"]) == pytest.approx(
        expected
    )


def test_token_f1_takes_the_best_reference_and_is_zero_without_overlap() -> None:
    assert token_f1("bone marrow", ["adipose tissue", "Bone marrow"]) == 1.0
    assert token_f1("bone marrow", ["adipose tissue"]) == 0.0
    assert token_f1("", ["adipose tissue"]) == 0.0
    assert token_f1("anything", []) == 0.0


def test_token_recall_is_the_share_of_the_best_reference_the_answer_holds() -> None:
    answer = "MSCs come from bone marrow and fat."
    assert token_recall(answer, ["bone marrow, fat, cord blood"]) == pytest.approx(3 / 5)
    assert token_recall(answer, ["adipose tissue", "the bone marrow"]) == 1.0
    assert token_recall("marrow", ["marrow marrow"]) == pytest.approx(0.5)
    assert token_recall("", ["fat"]) == 0.0 and token_recall("fat", []) == 0.0


def test_token_f1_counts_repeated_tokens_once_per_occurrence() -> None:
    # prediction "t cells t cells" vs gold "t cells": common = 2 of 4 predicted tokens
    assert token_f1("T cells, T cells", ["T cells"]) == pytest.approx(2 * 0.5 * 1 / 1.5)


@pytest.mark.parametrize(
    ("relevant", "hits", "rr"),
    [
        ([False, True, False], {1: 0.0, 3: 1.0, 10: 1.0}, 0.5),
        ([True, True], {1: 1.0, 3: 1.0, 10: 1.0}, 1.0),
        ([], {1: 0.0, 3: 0.0, 10: 0.0}, 0.0),  # nothing retrieved
        ([False] * 10 + [True], {1: 0.0, 3: 0.0, 10: 0.0}, 0.0),  # rank 11 is outside @10
    ],
)
def test_hit_and_reciprocal_rank(relevant: list[bool], hits: dict[int, float], rr: float) -> None:
    assert {k: hit_at(relevant, k) for k in hits} == hits
    assert reciprocal_rank(relevant, 10) == rr


def test_ties_in_score_keep_the_order_the_system_returned() -> None:
    # Two passages with equal scores: metrics read ranks, so the relevant one second is rank 2.
    assert reciprocal_rank([False, True]) == 0.5


def test_ndcg_matches_hand_computation() -> None:
    # relevant at ranks 2 and 4; three relevant passages exist in the index
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at([False, True, False, True], n_relevant=3) == pytest.approx(dcg / ideal)


def test_ndcg_is_one_for_an_ideal_ranking_and_zero_without_relevant_passages() -> None:
    assert ndcg_at([True, True, False], n_relevant=2) == pytest.approx(1.0)
    assert ndcg_at([False, False], n_relevant=2) == 0.0
    assert ndcg_at([], n_relevant=1) == 0.0
    assert ndcg_at([True], n_relevant=0) == 0.0  # no gold in the index: nothing to reward


def test_ndcg_ideal_is_capped_at_k() -> None:
    assert ndcg_at([True] * 10, n_relevant=25, k=10) == pytest.approx(1.0)


def test_mean_of_nothing_is_not_applicable() -> None:
    assert mean([]) is None
    assert mean([1.0, 0.0, 0.5]) == 0.5


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([10.0, 20.0, 30.0, 40.0], 50, 25.0),  # even count: halfway between the middle two
        ([5.0, 5.0, 5.0], 95, 5.0),  # ties
        ([1.0, 2.0, 3.0, 4.0, 5.0], 95, 4.8),
        ([7.0], 50, 7.0),
    ],
)
def test_percentile_interpolates_linearly(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_not_applicable() -> None:
    assert percentile([], 50) is None


def test_cosine() -> None:
    assert cosine([1.0, 0.0], [2.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 3.0]) == pytest.approx(0.0)
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
