"""Question -> passages: BM25 and sentence vectors fused by QueryFusionRetriever, re-ranked
(and re-ordered by a local cross-encoder when one is configured)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from index.models import PageSpan, Passage, SectionSpan, SpanIndex
from index.search import SearchIndex
from index.settings import RetrievalSettings
from rag.rerank import CrossEncoderReranker, SentenceEvidenceReranker

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

__all__ = ["Retriever"]

# With a scope, each side ranks every chunk and keeps the best `k` of the scope's: a top-k
# taken first and filtered after could leave a small document with no candidate at all.
_EVERY = 1 << 30
_ASKS_FOR_REFERENCES = re.compile(r"(?i)\b(?:referenc|cite[sd]?\b|citation|bibliograph)")


class _SearchRetriever(BaseRetriever):
    """Keyword or sentence-vector hits as nodes, built alike so that fusion can match them."""

    def __init__(
        self,
        search: SearchIndex,
        k: int,
        *,
        semantic: bool,
        exclude: frozenset[str] = frozenset(),
        doc_ids: frozenset[str] | None = None,
        shortlist: int = 0,
    ) -> None:
        super().__init__()
        self._search = search
        self._k = k
        self._shortlist = shortlist
        self._semantic = semantic
        self._exclude = exclude
        self._doc_ids = doc_ids

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        depth = self._k if self._doc_ids is None else _EVERY
        view = self._search.view()  # the rows below name chunks of this view
        if self._semantic:
            hits = self._search.semantic(
                query_bundle.embedding or [], depth, shortlist=self._shortlist, view=view
            )
        else:
            hits = self._search.keyword(query_bundle.query_str, depth, view=view)
        out: list[NodeWithScore] = []
        for row, score in hits:
            record = self._search.chunk(row, view)
            if record.metadata.get("kind", "body") in self._exclude:
                continue
            if self._doc_ids is not None and record.metadata.get("doc_id") not in self._doc_ids:
                continue
            if len(out) == self._k:
                break
            meta = record.metadata
            node = TextNode(
                id_=record.chunk_id,
                text=record.text,
                metadata=meta,
                start_char_idx=int(meta.get("start", 0)),
                end_char_idx=int(meta.get("end", 0)),
            )
            out.append(NodeWithScore(node=node, score=score))
        return out


class Retriever:
    """Hybrid retrieval; weights, fusion mode and depths come from RetrievalSettings."""

    def __init__(self, *, search: SearchIndex, embedder: BaseEmbedding) -> None:
        self._search = search
        self._embedder = embedder

    def embed_query(self, question: str) -> list[float]:
        return self._embedder.get_query_embedding(question)

    def retrieve(
        self,
        question: str,
        settings: RetrievalSettings,
        *,
        k: int | None = None,
        query_vector: list[float] | None = None,
        doc_ids: frozenset[str] | None = None,
    ) -> list[Passage]:
        """The k best passages for `question`, best first; only from `doc_ids` when given."""
        k = k or settings.top_k
        self._search.refresh()
        bundle = QueryBundle(question, embedding=query_vector or self.embed_query(question))
        exclude = frozenset(settings.exclude_kinds)
        if _ASKS_FOR_REFERENCES.search(question):
            exclude -= {"reference"}
        depth = settings.candidates
        fusion = QueryFusionRetriever(
            [
                _SearchRetriever(
                    self._search,
                    depth,
                    semantic=semantic,
                    exclude=exclude,
                    doc_ids=doc_ids,
                    shortlist=settings.shortlist,
                )
                for semantic in (False, True)
            ],
            mode=settings.fusion,  # type: ignore[arg-type]
            retriever_weights=[settings.keyword_weight, 1.0 - settings.keyword_weight],
            similarity_top_k=max(k, settings.rerank_depth, _cross_depth(settings)),
            num_queries=1,
            use_async=False,
            llm=MockLLM(),  # never called with num_queries=1; avoids the global default LLM
        )
        reranker = SentenceEvidenceReranker(
            self._search.idf, weight=settings.rerank_weight, depth=settings.rerank_depth
        )
        nodes = reranker.postprocess_nodes(fusion.retrieve(bundle), query_bundle=bundle)
        if settings.cross_encoder:
            cross = CrossEncoderReranker(
                model=settings.cross_encoder, depth=settings.cross_encoder_depth
            )
            nodes = cross.postprocess_nodes(nodes, query_bundle=bundle)
        return [_passage(n) for n in nodes[:k]]


def _cross_depth(settings: RetrievalSettings) -> int:
    return settings.cross_encoder_depth if settings.cross_encoder else 0


def _passage(hit: NodeWithScore) -> Passage:
    node, meta = hit.node, hit.node.metadata
    start = node.start_char_idx or 0
    text = node.get_content()
    spans: dict[str, Any] = json.loads(meta.get("spans_json") or "{}")
    return Passage(
        chunk_id=node.node_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        text=text,
        start=start,
        end=node.end_char_idx or start + len(text),
        page=int(meta.get("page", 1)),
        page_label=str(meta.get("page_label") or "") or None,
        section=str(meta.get("section") or "") or None,
        kind=str(meta.get("kind") or "body"),  # type: ignore[arg-type]
        ocr=bool(meta.get("ocr", False)),
        ocr_confidence=_confidence(meta.get("ocr_confidence")),
        score=float(hit.score or 0.0),
        spans=SpanIndex(
            pages=[PageSpan(**p) for p in spans.get("pages", [])],
            sections=[SectionSpan(**s) for s in spans.get("sections", [])],
        ),
    )


def _confidence(value: Any) -> float | None:
    # Chroma keeps no None: a page read from its text layer is stored as -1.
    return float(value) if value is not None and float(value) >= 0 else None
