"""The read path's front door: retrieve, answer, and the document operations clients need."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedding import load_embedder
from index.errors import QuestionError
from index.indexer import Indexer, ProgressCallback
from index.keyword import terms
from index.models import Answer, Document, DocumentInfo, IngestReport, Passage
from index.search import SearchIndex
from index.settings import BUNDLED_CORPUS, AnswerSettings, RetrievalSettings, Settings
from index.store import Store, chroma_errors, open_store
from rag.answer import compose
from rag.rerank import load_cross_encoder
from rag.retrieve import Retriever

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

__all__ = ["Engine", "Turn"]

Turn = tuple[str, str]  # (question, answer) of an earlier exchange
_MAX_QUESTION_CHARS = 2000
_FOLLOW_UP = re.compile(r"\b(it|its|they|them|their|this|these|those|that|he|she|such)\b", re.I)


class Engine:
    """Everything a client (CLI, UI, eval) does with an index."""

    def __init__(self, settings: Settings, *, store: Store, embedder: BaseEmbedding) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.search = SearchIndex(store, settings)
        self._retriever = Retriever(search=self.search, embedder=embedder)
        if settings.retrieval.cross_encoder:  # a missing model is an error now, not mid-chat
            load_cross_encoder(settings.retrieval.cross_encoder)
        self._indexer = Indexer(settings, store=store, embedder=embedder)

    @classmethod
    def open(cls, settings: Settings, *, embedder: BaseEmbedding | None = None) -> Engine:
        return cls(
            settings, store=open_store(settings), embedder=embedder or load_embedder(settings)
        )

    # -- reading --------------------------------------------------------------
    def retrieve(
        self, question: str, k: int | None = None, *, retrieval: RetrievalSettings | None = None
    ) -> list[Passage]:
        question = _check(question)
        with self._outage():
            return self._retriever.retrieve(question, retrieval or self.settings.retrieval, k=k)

    def ask(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        retrieval: RetrievalSettings | None = None,
        answer: AnswerSettings | None = None,
    ) -> Answer:
        """Answer with citations; `retrieval`/`answer` override the settings for one call."""
        question = _check(question)
        query = _with_context(question, history or [])
        query_vector = self._retriever.embed_query(query)
        with self._outage():
            passages = self._retriever.retrieve(
                query, retrieval or self.settings.retrieval, query_vector=query_vector
            )
        result = compose(
            query,
            passages,
            query_vector=query_vector,
            sentences_in=self.search.sentences,
            idf=self.search.idf,
            unseen=self.search.unseen,
            settings=answer or self.settings.answer,
        )
        return result.model_copy(update={"question": question})

    # -- documents --------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        with self._outage():
            report = self._indexer.ingest(
                paths, show_progress=show_progress, on_progress=on_progress
            )
            # The new documents' search segment is derived now, not by the next question.
            self.search.refresh(complete=True)
            return report

    def ensure_bundled_corpus(self, *, show_progress: bool = False) -> IngestReport | None:
        """Index the bundled MSC article when the index is empty."""
        if self.documents():
            return None
        return self.ingest([BUNDLED_CORPUS], show_progress=show_progress)

    def documents(self) -> list[DocumentInfo]:
        with self._outage():
            return self.store.documents()

    def document(self, doc_id: str) -> Document | None:
        with self._outage():
            return self.store.document(doc_id)

    def remove(self, doc_id: str) -> bool:
        with self._outage():
            return self._indexer.remove(doc_id)

    def _outage(self) -> AbstractContextManager[None]:
        """A lost Chroma server: a PaperTrailError naming it, and the next call tries again."""
        return chroma_errors(self.settings.chroma_url)


def _check(question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise QuestionError("the question is empty; type a question about your documents")
    if len(question) > _MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is {_MAX_QUESTION_CHARS}"
        )
    return question


def _with_context(question: str, history: Sequence[Turn]) -> str:
    """A follow-up ("what about their cost?") is searched together with the last question."""
    if not history:
        return question
    if len(terms(question)) <= 3 or _FOLLOW_UP.search(question):
        return f"{history[-1][0]} {question}"
    return question
