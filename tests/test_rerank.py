"""The sentence-evidence re-ranker: what moves up, what stays put."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from index.keyword import terms
from index.settings import RetrievalSettings
from rag import Engine
from rag.rerank import SentenceEvidenceReranker, best_sentence_coverage

QUESTION = "Which receptor does the coronavirus spike protein bind?"
# Question terms spread over three sentences: on topic, but no sentence answers.
SCATTERED = (
    "The coronavirus family is large. Its spike is a glycoprotein on the surface. "
    "A receptor is needed by many viruses."
)
# One sentence holds every question term: the answer.
ANSWERING = (
    "Cells were grown in culture. The coronavirus spike protein binds the ACE2 receptor. "
    "Samples were stored frozen."
)
# Rare terms weigh more than common ones, as the BM25 idf says.
IDF = {"coronavirus": 0.5, "spike": 3.0, "protein": 1.0, "receptor": 2.5, "bind": 2.0}


def _idf(words: list[str]) -> dict[str, float]:
    return {w: IDF.get(w, 4.0) for w in words}


def _nodes(*texts_and_scores: tuple[str, float]) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(id_=f"n{i}", text=text), score=score)
        for i, (text, score) in enumerate(texts_and_scores)
    ]


def _rerank(nodes: list[NodeWithScore], **kwargs: float | int) -> list[str]:
    reranker = SentenceEvidenceReranker(_idf, **kwargs)
    out = reranker.postprocess_nodes(nodes, query_bundle=QueryBundle(QUESTION))
    return [n.node.node_id for n in out]


def test_chunk_whose_one_sentence_holds_the_question_overtakes_one_that_scatters_it() -> None:
    nodes = _nodes((SCATTERED, 1.0), (ANSWERING, 0.8))
    assert _rerank(nodes, weight=0.5, depth=30) == ["n1", "n0"]


def test_zero_weight_keeps_the_fused_order() -> None:
    nodes = _nodes((SCATTERED, 1.0), (ANSWERING, 0.8))
    assert _rerank(nodes, weight=0.0, depth=30) == ["n0", "n1"]


def test_nodes_beyond_the_depth_are_not_rescored() -> None:
    nodes = _nodes((SCATTERED, 1.0), ("Nothing relevant here.", 0.9), (ANSWERING, 0.8))
    assert _rerank(nodes, weight=0.5, depth=2) == ["n0", "n1", "n2"]


def test_coverage_counts_rare_terms_more_than_common_ones() -> None:
    weights = _idf(sorted(set(terms(QUESTION))))
    rare = best_sentence_coverage(weights, "The spike matters here.")
    common = best_sentence_coverage(weights, "The coronavirus matters here.")
    assert rare > common > 0.0


def test_coverage_is_one_sentence_not_the_whole_chunk() -> None:
    weights = _idf(sorted(set(terms(QUESTION))))
    assert best_sentence_coverage(weights, ANSWERING) == 1.0
    assert best_sentence_coverage(weights, SCATTERED) < 0.5


def test_sentence_cut_at_the_chunk_edge_still_counts() -> None:
    weights = _idf(sorted(set(terms(QUESTION))))
    assert best_sentence_coverage(weights, "Samples were frozen. The spike protein binds the") > 0.5


def test_real_retrieval_returns_k_passages_best_first_with_and_without_reranking(
    bundled_engine: Engine,
) -> None:
    question = "Which cytokines do MSCs secrete?"
    on = bundled_engine.retrieve(question, k=5)
    off = bundled_engine.retrieve(
        question, k=5, retrieval=RetrievalSettings(rerank_depth=0, rerank_weight=0.0)
    )
    assert len(on) == len(off) == 5
    assert [p.score for p in on] == sorted((p.score for p in on), reverse=True)
    # The re-ranker only adds to fused scores.
    assert on[0].score >= off[0].score
