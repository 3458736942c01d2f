"""The read path's front door: retrieve, answer, and the document operations clients need."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from index.embedding import WordVectors, load_embedder
from index.errors import PaperTrailError, QuestionError
from index.indexer import Indexer, LibraryRecord, OcrProgressCallback, ProgressCallback
from index.library import LibraryImport, LibraryKind
from index.models import (
    Answer,
    AnswerEvent,
    Citation,
    Claim,
    Document,
    DocumentInfo,
    DocumentMetadata,
    IngestReport,
    Passage,
)
from index.search import SearchIndex
from index.settings import BUNDLED_CORPUS, AnswerSettings, RetrievalSettings, Settings
from index.store import Store, chroma_errors, open_store
from rag.answer import ABSTAIN_MESSAGE, compose
from rag.claims import ClaimBuilder
from rag.followup import Turn, already_said, standalone
from rag.generate import Generator, LLMError, answer_messages, reading_passages
from rag.local_model import local_server
from rag.page_view import PageView, page_view
from rag.rerank import load_cross_encoder
from rag.retrieve import Retriever
from rag.verify import Verifier

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from rag.cite import ExportFormat

__all__ = ["Engine", "Turn"]

_log = logging.getLogger(__name__)

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
        self._generator: Generator | None = None
        self._generator_lock = threading.Lock()
        # One ingest, removal or correction at a time, whichever interface asks (UI, API, MCP).
        self.writes = threading.RLock()
        self._warm_after_answer = threading.Event()  # keep_writes_warm(), not done yet

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
        events = self.ask_stream(
            question, history, retrieval=retrieval, answer=answer, doc_ids=doc_ids
        )
        *_, last = events
        return last.answer

    def ask_stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        retrieval: RetrievalSettings | None = None,
        answer: AnswerSettings | None = None,
        doc_ids: Iterable[str] | None = None,
    ) -> Iterator[AnswerEvent]:
        """`ask`, step by step: in generative mode the text as the LLM writes it and each
        sentence's verdict as it completes; always ends with the final answer."""
        for event in self._ask_stream(
            question, history, retrieval=retrieval, answer=answer, doc_ids=doc_ids
        ):
            if event.answer.citations:
                with self._outage():
                    works = self.store.document_infos({c.doc_id for c in event.answer.citations})
                event = event.model_copy(update={"answer": _referenced(event.answer, works)})
            yield event
        if self._warm_after_answer.is_set():  # after the first answer, not before it
            self._warm_after_answer.clear()
            # Not a daemon: exiting while Chroma loads would crash the process.
            threading.Thread(target=self._warm, name="papertrail-warm-writes").start()

    def keep_writes_warm(self) -> None:
        """For a long-running process (serve, mcp): after the first answer, load the chunk
        collection in the background, so that the first paper added does not wait for it.
        A one-shot command does not: it would wait for the load to exit."""
        self._warm_after_answer.set()

    def _warm(self) -> None:
        try:
            self.store.warm_writes()
        except Exception as exc:  # only a head start: the first write loads it otherwise
            _log.debug("warming the chunk collection failed: %s", exc)

    def _ask_stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        retrieval: RetrievalSettings | None = None,
        answer: AnswerSettings | None = None,
        doc_ids: Iterable[str] | None = None,
    ) -> Iterator[AnswerEvent]:
        question = _check(question)
        settings = answer or self.settings.answer
        generative = settings.mode == "generative"
        judging = settings.judge == "on" or (
            settings.judge == "auto" and generative and bool(self.settings.llm.local)
        )
        generator, notice = self._llm() if generative or judging else (None, None)
        if generator is None and judging and not generative:
            notice = (
                "judging answerability needs an LLM (set PAPERTRAIL_LLM__BASE_URL, or "
                "--judge local); it was judged by the support score alone"
            )
        query = standalone(question, history or [])
        if generator is not None and history:
            try:
                query = generator.condense(question, history)
            except LLMError as exc:
                notice = f"{exc}; the follow-up was searched without it"
        searched = query if query != question else None
        # A follow-up's answer does not quote again what the last answer quoted.
        said = already_said(question, history or []) if searched else []
        base = Answer(question=question, answer="", abstained=False, searched=searched)
        if searched:
            yield AnswerEvent(kind="searched", text=searched, answer=base)
        judge = generator if judging else None
        # With a judge, the support score only rules out the hopeless; the judge decides.
        composing = settings.model_copy(update={"min_evidence": settings.judge_floor})
        extractive = self._compose(
            query, retrieval, composing if judge else settings, doc_ids, said
        ).model_copy(update={"question": question, "searched": searched, "notice": notice})
        reading = []
        if generator is not None and not extractive.abstained:
            reading = self._reading(query, extractive, settings)
        if judge is not None and not extractive.abstained:
            extractive = self._judged(judge, query, reading, extractive, settings)
        # An unsupported question is abstained on before any LLM writes.
        if generator is None or extractive.abstained or not generative:
            yield AnswerEvent(kind="answer", answer=extractive)
            return
        yield from self._generate(generator, query, extractive, reading, settings)

    def _judged(
        self,
        judge: Generator,
        query: str,
        reading: list[Passage],
        extractive: Answer,
        settings: AnswerSettings,
    ) -> Answer:
        """The answer after the LLM judged whether the passages it reads answer `query`:
        abstained when they don't; the support score's own cut when the judge fails."""
        try:
            judgement = judge.judge(query, reading)
        except LLMError as exc:
            why = f"{exc}; answerability was judged by the support score alone"
            if extractive.evidence_score < settings.min_evidence:
                return _abstained(extractive, _join(extractive.notice, why))
            return extractive.model_copy(update={"notice": _join(extractive.notice, why)})
        if not judgement.answerable:
            why = f"{judge.where} read the passages and found no answer in them"
            return _abstained(extractive, _join(extractive.notice, why), judged=False)
        return extractive.model_copy(update={"judged_answerable": True})

    def _reading(self, query: str, extractive: Answer, settings: AnswerSettings) -> list[Passage]:
        """The passages the LLM reads: for the local model a few short windows around the
        sentences closest to the question, for another LLM the answer's passages."""
        shown = extractive.passages[: settings.passages]
        if not self.settings.llm.local:
            return shown
        local = self.settings.local_model
        return reading_passages(
            shown,
            query_vector=self._retriever.embed_query(query),
            sentences_in=self.search.sentences,
            count=local.passages,
            chars=local.passage_chars,
            first=extractive.citations[0].chunk_id if extractive.citations else None,
        )

    def _compose(
        self,
        query: str,
        retrieval: RetrievalSettings | None,
        settings: AnswerSettings,
        doc_ids: Iterable[str] | None,
        said: Sequence[str] = (),
    ) -> Answer:
        query_vector = self._retriever.embed_query(query)
        passages = self._retrieve(
            query,
            retrieval or self.settings.retrieval,
            query_vector=query_vector,
            doc_ids=_scope(doc_ids),
        )
        return compose(
            query,
            passages,
            query_vector=query_vector,
            sentences_in=self.search.sentences,
            term_counts=self.search.term_counts,
            settings=settings,
            avoid=frozenset(said),
            word_vectors=self.word_vectors,
        )

    def _generate(
        self,
        generator: Generator,
        query: str,
        extractive: Answer,
        shown: list[Passage],
        settings: AnswerSettings,
    ) -> Iterator[AnswerEvent]:
        """The LLM's answer from the passages it reads (`shown`), checked sentence by
        sentence; any failure gives the extractive answer with a one-line notice."""
        built = ClaimBuilder(self.verifier, shown, settings)
        sentences = max(2, settings.max_words // 20)
        if self.settings.llm.local:  # ~20 tokens/s: every sentence costs about a second
            sentences = min(sentences, self.settings.local_model.sentences)

        def event(kind: str, text: str = "", claim: Claim | None = None) -> AnswerEvent:
            return AnswerEvent(
                kind=kind,  # type: ignore[arg-type]
                text=text,
                claim=claim,
                answer=built.answer(extractive),
                pending=built.pending,
            )

        tokens = generator.stream(answer_messages(query, shown, sentences))
        try:
            while True:
                try:
                    delta = next(tokens)
                except StopIteration as stop:
                    reason = stop.value
                    break
                done = built.feed(delta)
                yield event("delta", delta)
                for claim in done:
                    yield event("claim", claim=claim)
            for claim in built.finish():
                yield event("claim", claim=claim)
        except LLMError as exc:
            notice = f"{exc}; showing the extractive answer"
            yield AnswerEvent(
                kind="answer",
                answer=extractive.model_copy(update={"notice": _join(extractive.notice, notice)}),
            )
            return
        final = built.answer(extractive)
        verified = any(c.verdict in ("supported", "weak") for c in built.claims)
        if not final.answer.strip() or not verified:
            why = (
                "no sentence the LLM wrote is stated by the passages"
                if built.claims
                else "the LLM wrote nothing"
            )
            final = extractive.model_copy(
                update={
                    "claims": built.claims,
                    "notice": _join(extractive.notice, f"{why}; showing the extractive answer"),
                }
            )
        elif reason == "length":
            cut = (
                f"the LLM reached its limit of {generator.settings.max_tokens} tokens "
                "(PAPERTRAIL_LLM__MAX_TOKENS); the last sentence may be cut short"
            )
            final = final.model_copy(update={"notice": _join(final.notice, cut)})
        yield AnswerEvent(kind="answer", answer=final)

    def _llm(self) -> tuple[Generator | None, str | None]:
        """The configured LLM, or None and why not. The local model's server is started
        (or started again, if it died) here; a model that cannot run is an error."""
        llm = self.settings.llm
        if llm.local:
            url = local_server(self.settings.local_model).url()
            llm = llm.model_copy(
                update={
                    "base_url": url,
                    "model": "local",
                    "api_key": None,
                    "timeout_s": self.settings.local_model.timeout_s,
                }
            )
        elif not llm.base_url:
            return None, (
                "generative mode needs an LLM (set PAPERTRAIL_LLM__BASE_URL, or use the local "
                "model: --llm local); showing the extractive answer"
            )
        with self._generator_lock:
            if self._generator is None or self._generator.settings != llm:
                self._generator = Generator(llm)
            return self._generator, None

    @cached_property
    def word_vectors(self) -> WordVectors:
        return WordVectors(self.embedder)

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
        ocr_mode: Literal["auto", "always", "never"] | None = None,
        on_ocr_page: OcrProgressCallback | None = None,
        records: dict[str, LibraryRecord] | None = None,
    ) -> IngestReport:
        """Index files; `replace` names a document the one file given takes the place of,
        `ocr_mode` overrides the settings' OCR mode, `on_ocr_page` hears each scanned page."""
        with self._outage():
            report = self._indexer.ingest(
                paths,
                show_progress=show_progress,
                on_progress=on_progress,
                replace=replace,
                ocr_mode=ocr_mode,
                on_ocr_page=on_ocr_page,
                records=records,
                # Each batch's search segment is derived as it is stored, not by the next
                # question, and from that batch's documents alone (bounded memory).
                on_batch=lambda done, total: self._derive_quietly(),
            )
            self.search.refresh(complete=True)
            return report

    def _derive_quietly(self) -> None:
        """Derive a stored batch's search segment; if that fails (a lost Chroma server),
        the next batches still go through and the next question derives it."""
        try:
            self.search.refresh(complete=True)
        except Exception as exc:  # raised again, if it lasts, by the next question's refresh
            _log.warning("search segment of the stored batch not derived yet: %s", exc)

    def ingest_library(
        self,
        kind: LibraryKind,
        path: str | Path,
        *,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> LibraryImport:
        """Index a reference manager's library (a Zotero data folder, a BibTeX or RIS
        export): its items' files with their records; on the next run only what was added,
        changed or deleted. The library itself is never written to."""
        from index.library import load_state, plan_import, read_library, save_state
        from index.store import source_key

        path = Path(path).expanduser()
        index_dir = self.settings.index_dir
        with self._outage():
            out, state, entries, gone = plan_import(
                read_library(kind, path), load_state(index_dir, kind, path)
            )
            records = {
                source_key(f): LibraryRecord(e.metadata, e.collections)
                for e in entries
                for f in e.files
            }
            if records:
                out.report = self.ingest(
                    list(dict.fromkeys(f for e in entries for f in e.files)),
                    show_progress=show_progress,
                    on_progress=on_progress,
                    records=records,
                )
            by_source = {source_key(d.source): d.doc_id for d in self.documents()}
            for key in gone:
                if (doc_id := by_source.get(key)) and self.remove(doc_id):
                    out.removed.append(doc_id)
            save_state(index_dir, state)
            return out

    def set_metadata(self, doc_id: str, **fields: object) -> DocumentInfo:
        """Correct a document's bibliographic fields (no re-indexing); they are marked the
        user's and win over a library's record and the file's own from now on."""
        info = next((d for d in self.documents() if d.doc_id == doc_id), None)
        if info is None:
            raise PaperTrailError(f"no document {doc_id!r} in the index")
        current = info.metadata or DocumentMetadata(title=info.title)
        unknown = set(fields) - set(DocumentMetadata.model_fields) - {"sources"}
        if unknown:
            raise PaperTrailError(f"unknown metadata field(s): {', '.join(sorted(unknown))}")
        sources = {**current.sources, **{name: "user" for name in fields}}
        try:
            updated = DocumentMetadata.model_validate(
                {**current.model_dump(), **fields, "sources": sources}
            )
        except ValueError as exc:
            first = str(exc).splitlines()
            raise PaperTrailError(f"{doc_id}: {' '.join(first[:3])}") from exc
        with self._outage():
            self.store.set_metadata(doc_id, updated)
        return next(d for d in self.documents() if d.doc_id == doc_id)

    def filed_in(self, collections: Iterable[str]) -> list[str]:
        """Ids of the documents filed in any of `collections` or a collection inside one."""
        wanted = [c.strip("/") for c in collections]
        return [
            d.doc_id
            for d in self.documents()
            if any(f == w or f.startswith(w + "/") for f in d.collections for w in wanted)
        ]

    def cited_works(self, citations: Iterable[Citation] | Answer, fmt: ExportFormat) -> str:
        """The works cited (in an answer, or across a conversation's citations) as a
        BibTeX, RIS or CSL-JSON file, each with the pages cited."""
        from rag.cite import export, works_from_citations

        cited = citations.citations if isinstance(citations, Answer) else list(citations)
        works = {d.doc_id: d.metadata for d in self.documents()}
        return export(works_from_citations(cited, works), fmt)

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
        return page_view(
            document, page, quote, cache_dir=self.pages_dir, ocr_cache=self.settings.ocr.cache_dir
        )

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


def _abstained(answer: Answer, notice: str | None, *, judged: bool | None = None) -> Answer:
    """`answer` turned into an abstention (its passages kept as the closest ones)."""
    return answer.model_copy(
        update={
            "answer": ABSTAIN_MESSAGE,
            "abstained": True,
            "citations": [],
            "weak_support": False,
            "notice": notice,
            "judged_answerable": judged,
        }
    )


def _join(*notices: str | None) -> str | None:
    return "; ".join(n for n in notices if n) or None


def _referenced(answer: Answer, works: Mapping[str, DocumentInfo]) -> Answer:
    """Each citation with its work as a researcher cites it, and its DOI."""
    from rag.cite import reference

    citations = []
    for c in answer.citations:
        info = works.get(c.doc_id)
        m = info.metadata if info is not None else None
        # Only a work known beyond its title reads as a reference; else the title, as before.
        known = m is not None and bool(m.creators or m.year or m.venue)
        ref = reference(m, fallback_title=c.title, markdown=False) if known else None
        citations.append(c.model_copy(update={"reference": ref, "doi": m.doi if m else None}))
    return answer.model_copy(update={"citations": citations})
