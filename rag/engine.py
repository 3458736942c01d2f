"""The read path's front door: retrieve, answer, and the document operations clients need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedding import load_embedder, model_vocabulary
from index.errors import QuestionError
from index.indexer import Indexer, ProgressCallback
from index.models import Answer, Document, DocumentInfo, IngestReport, Passage
from index.search import SearchIndex
from index.settings import BUNDLED_CORPUS, AnswerSettings, RetrievalSettings, Settings
from index.store import Store, chroma_errors, open_store
from rag.answer import compose
from rag.followup import Turn, already_said, standalone
from rag.page_view import PageView, page_view
from rag.rerank import load_cross_encoder
from rag.retrieve import Retriever
from rag.verify import Verifier

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

__all__ = ["Engine", "Turn"]

_MAX_QUESTION_CHARS = 2000


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
        self._copies: tuple[str, dict[str, tuple[str, str]]] = ("", {})

    @classmethod
    def open(cls, settings: Settings, *, embedder: BaseEmbedding | None = None) -> Engine:
        return cls(
            settings, store=open_store(settings), embedder=embedder or load_embedder(settings)
        )

    # -- reading --------------------------------------------------------------
    def retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        retrieval: RetrievalSettings | None = None,
        doc_ids: Iterable[str] | None = None,
    ) -> list[Passage]:
        question = _check(question)
        return self._retrieve(
            question, retrieval or self.settings.retrieval, k=k, doc_ids=_scope(doc_ids)
        )

    def ask(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        retrieval: RetrievalSettings | None = None,
        answer: AnswerSettings | None = None,
        doc_ids: Iterable[str] | None = None,
    ) -> Answer:
        """Answer with citations; `retrieval`/`answer` override the settings for one call,
        and `doc_ids` (when given) limits both retrieval sides to those documents."""
        question = _check(question)
        query = standalone(question, history or [])
        # A follow-up's answer does not quote again what the last answer quoted.
        said = already_said(question, history or []) if query != question else []
        query_vector = self._retriever.embed_query(query)
        passages = self._retrieve(
            query,
            retrieval or self.settings.retrieval,
            query_vector=query_vector,
            doc_ids=_scope(doc_ids),
        )
        result = compose(
            query,
            passages,
            query_vector=query_vector,
            sentences_in=self.search.sentences,
            idf=self.search.idf,
            unseen=self.search.unseen,
            settings=answer or self.settings.answer,
            avoid=frozenset(said),
            vocabulary=model_vocabulary(self.settings.embed_model),
        )
        searched = query if query != question else None
        return result.model_copy(update={"question": question, "searched": searched})

    @cached_property
    def verifier(self) -> Verifier:
        """Checks generated sentences against the passages they cite (rag/verify.py)."""
        return Verifier(self.embedder, self.search.sentences, self.search.idf, self.settings.answer)

    # -- documents --------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
        replace: str | None = None,
    ) -> IngestReport:
        """Index files; `replace` names a document the one file given takes the place of."""
        with self._outage():
            report = self._indexer.ingest(
                paths, show_progress=show_progress, on_progress=on_progress, replace=replace
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

    def page_view(
        self, document: str | Document, page: int, quote: str | None = None
    ) -> PageView | None:
        """The rendered PDF page a citation points to (by doc id, or the document already
        read), with the quote's boxes on it; None for anything but a PDF still on disk."""
        if isinstance(document, str):
            document = self.document(document)  # type: ignore[assignment]
        if document is None:
            return None
        return page_view(document, page, quote, cache_dir=self.pages_dir)

    @property
    def pages_dir(self) -> Path:
        """Where rendered pages are cached (served to the browser from there)."""
        return self.settings.index_dir / "pages"

    def remove(self, doc_id: str) -> bool:
        with self._outage():
            return self._indexer.remove(doc_id)

    def prefer(self, doc_id: str) -> bool:
        """Cite `doc_id` rather than its duplicates; False when there is no such document."""
        with self._outage():
            return self.store.prefer(doc_id)

    def _retrieve(
        self,
        question: str,
        settings: RetrievalSettings,
        *,
        k: int | None = None,
        query_vector: list[float] | None = None,
        doc_ids: frozenset[str] | None = None,
    ) -> list[Passage]:
        """Retrieval (within `doc_ids`, if given) from one copy of each duplicated document."""
        with self._outage():
            copies = self._duplicate_groups()
            # One copy is searched (the preferred, or the first); the others leave the search
            # and its statistics, so a second copy changes nothing retrieved, cited or abstained.
            self.search.hide(frozenset(d for d, (_, cited) in copies.items() if d != cited))
            return self._retriever.retrieve(
                question, settings, k=k, query_vector=query_vector, doc_ids=doc_ids
            )

    def _duplicate_groups(self) -> dict[str, tuple[str, str]]:
        """doc id -> (its group's first copy, the copy to cite) for documents with copies."""
        revision = self.store.revision()
        if self._copies[0] != revision:
            self._copies = (revision, _groups(self.store.documents()))
        return self._copies[1]

    def _outage(self) -> AbstractContextManager[None]:
        """A lost Chroma server: a PaperTrailError naming it, and the next call tries again."""
        return chroma_errors(self.settings.chroma_url)


def _scope(doc_ids: Iterable[str] | None) -> frozenset[str] | None:
    """None searches everything; an empty scope is refused rather than read as "all"."""
    if doc_ids is None:
        return None
    scope = frozenset(doc_ids)
    if not scope:
        raise QuestionError("no documents chosen to search; choose at least one")
    return scope


def _groups(documents: Sequence[DocumentInfo]) -> dict[str, tuple[str, str]]:
    ids = {d.doc_id for d in documents}
    root = {d.doc_id: d.duplicate_of if d.duplicate_of in ids else d.doc_id for d in documents}
    members: dict[str, list[DocumentInfo]] = {}
    for d in documents:
        members.setdefault(root[d.doc_id], []).append(d)
    out: dict[str, tuple[str, str]] = {}
    for first, group in members.items():
        if len(group) < 2:
            continue
        cited = next((d.doc_id for d in group if d.preferred), first)  # the user's mark wins
        out.update({d.doc_id: (first, cited) for d in group})
    return out


def _check(question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise QuestionError("the question is empty; type a question about your documents")
    if len(question) > _MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is {_MAX_QUESTION_CHARS}"
        )
    return question
