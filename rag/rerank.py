"""Second stage: re-rank fused candidates by their best sentence's share of the question.

Optionally a third: a cross-encoder the user has locally re-orders the leading candidates.

A chunk's fused score says it is about the question's topic; whether it answers tends to
show in one sentence that holds most of the question's rare terms. So each candidate gains
`weight` times the idf-weighted share of the question's terms that its best sentence
contains (0..1). On COVID-QA dev this lifted MRR@10 by ~0.026 and hit@5 by ~0.013; term
windows, proximity, typed answers (numbers, dates), document voting and query expansion
added nothing on top (docs/retrieval.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from llama_index.core.postprocessor import SentenceTransformerRerank
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import Field, PrivateAttr

from index.errors import PaperTrailError
from index.keyword import question_weights, terms, weighted_share
from index.sentences import split_sentences

__all__ = [
    "CrossEncoderReranker",
    "SentenceEvidenceReranker",
    "best_sentence_coverage",
    "load_cross_encoder",
]

Idf = Callable[[list[str]], dict[str, float]]


def best_sentence_coverage(question_weights: dict[str, float], text: str) -> float:
    """The largest share of the question's term weight that one sentence of `text` holds."""
    return max(
        (weighted_share(bag, question_weights) for bag in _sentence_terms(text)), default=0.0
    )


@lru_cache(maxsize=8192)
def _sentence_terms(text: str) -> tuple[frozenset[str], ...]:
    """Term sets of each sentence; cached since the same chunks come back question after question.

    Split from the chunk's own text, so sentences cut at a chunk edge still count for the part
    the chunk holds.
    """
    return tuple(frozenset(terms(s.text)) for s in split_sentences(text))


class SentenceEvidenceReranker(BaseNodePostprocessor):
    """Adds `weight` x best-sentence term coverage to the first `depth` nodes, then re-sorts."""

    weight: float = Field(0.5, ge=0.0, description="Weight of best-sentence term coverage.")
    depth: int = Field(30, ge=0, description="Leading nodes re-scored; the rest keep order.")
    _idf: Idf = PrivateAttr()

    def __init__(self, idf: Idf, **data: float | int) -> None:
        super().__init__(**data)
        self._idf = idf

    @classmethod
    def class_name(cls) -> str:
        return "SentenceEvidenceReranker"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if query_bundle is None or not self.weight or not self.depth:
            return nodes
        head, tail = nodes[: self.depth], nodes[self.depth :]
        weights = question_weights(query_bundle.query_str, self._idf)
        rescored = [
            NodeWithScore(
                node=n.node,
                score=(n.score or 0.0)
                + self.weight * best_sentence_coverage(weights, n.node.get_content()),
            )
            for n in head
        ]
        # Stable: ties keep the fused order.
        rescored.sort(key=lambda n: -(n.score or 0.0))
        return rescored + tail


class CrossEncoderReranker(BaseNodePostprocessor):
    """Re-orders the first `depth` nodes by a cross-encoder's relevance score.

    Scoring is LlamaIndex's `SentenceTransformerRerank`. The head keeps its own scores, handed
    out again in the cross-encoder's order, so that the answerer's evidence prior and
    abstention threshold keep the scale they were fitted on.
    """

    model: str = Field(description="CrossEncoder folder or name in the offline cache.")
    depth: int = Field(20, ge=2, description="Leading nodes re-ordered; the rest keep order.")

    @classmethod
    def class_name(cls) -> str:
        return "CrossEncoderReranker"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        head, tail = nodes[: self.depth], nodes[self.depth :]
        if query_bundle is None or len(head) < 2:
            return nodes
        # Text only: the stored metadata (offsets, spans) would be noise to the model.
        bare = [
            NodeWithScore(node=TextNode(id_=n.node.node_id, text=n.node.get_content()))
            for n in head
        ]
        order = load_cross_encoder(self.model).postprocess_nodes(bare, query_bundle=query_bundle)
        by_id = {n.node.node_id: n.node for n in head}
        scores = sorted((n.score or 0.0 for n in head), reverse=True)
        ranked = [
            NodeWithScore(node=by_id[n.node.node_id], score=s)
            for n, s in zip(order, scores, strict=True)
        ]
        return ranked + tail


@lru_cache(maxsize=2)
def load_cross_encoder(model: str) -> SentenceTransformerRerank:
    """The model, loaded once per process; a clear error if it is not on this machine."""
    try:
        return SentenceTransformerRerank(model=model, top_n=1_000, device="cpu")
    except Exception as e:  # OSError, ValueError ... from transformers, by cause
        raise PaperTrailError(
            f"retrieval.cross_encoder: cannot load {model!r} ({type(e).__name__}: {e}); "
            "give a local CrossEncoder folder, or unset PAPERTRAIL_RETRIEVAL__CROSS_ENCODER"
        ) from e
