"""The systems an evaluation compares, behind one small interface that speaks our own models.

`papertrail` is the Engine. The baselines index the same cleaned documents:

- `bm25`: stock bm25s (English stopwords and Snowball stemmer) over PaperTrail's chunks.
- `dense`: PaperTrail's chunks, one vector per chunk from the same embedder, vector search only.
- `llamaindex-default`: what a newcomer writes, `VectorStoreIndex.from_documents` on a Chroma
  collection with the default `SentenceSplitter`, the default `similarity_top_k` and the same
  model through LlamaIndex's stock `HuggingFaceEmbedding` (torch).
- `random`: PaperTrail's chunks drawn at random; chance level, and a broken retriever for tests.

A baseline's answer is its top `ANSWER_PASSAGES` passages joined together, each cited whole.
This is the one module of `eval` that touches LlamaIndex, because `llamaindex-default` is stock
LlamaIndex by definition; its types stay here: callers see `Answer`, `Passage` and `Document`.
"""

from __future__ import annotations

import random
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eval.datasets import read_corpus
from eval.models import ClaimCheck
from index.chunking import chunk_document
from index.embedding import load_embedder
from index.models import Answer, AnswerEvent, Chunk, Citation, Document, Passage
from index.settings import Settings
from rag.engine import Engine

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import BaseNode, NodeWithScore

__all__ = ["ANSWER_PASSAGES", "SYSTEMS", "System", "open_system"]

ANSWER_PASSAGES = 2  # LlamaIndex's DEFAULT_SIMILARITY_TOP_K: what its stock query engine reads
SYSTEMS = (
    "papertrail",
    "papertrail-judged",
    "papertrail-generative",
    "bm25",
    "dense",
    "llamaindex-default",
    "random",
)


class System(ABC):
    """One question-answering system on its own index."""

    name: str

    @abstractmethod
    def ingest(self, paths: Sequence[Path]) -> int:
        """Index the files; returns the number of chunks indexed."""

    @abstractmethod
    def retrieve(self, question: str, k: int) -> list[Passage]:
        """The k best passages, best first."""

    @abstractmethod
    def ask(self, question: str) -> Answer:
        """A cited answer."""

    @abstractmethod
    def passages(self) -> list[Passage]:
        """Every indexed chunk (text, offsets and document; score 0)."""

    @abstractmethod
    def document(self, doc_id: str) -> Document | None:
        """The cleaned document the offsets refer to."""

    @abstractmethod
    def remove(self, doc_ids: Sequence[str]) -> None:
        """Drop documents from the index."""


def open_system(name: str, settings: Settings) -> System:
    """The named system on an index under `settings.index_dir`."""
    factories: dict[str, type[System]] = {
        "papertrail": PaperTrailSystem,
        "papertrail-judged": JudgedSystem,
        "papertrail-generative": GenerativeSystem,
        "bm25": BM25Baseline,
        "dense": DenseBaseline,
        "llamaindex-default": LlamaIndexDefaultBaseline,
        "random": RandomBaseline,
    }
    if name not in factories:
        raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
    return factories[name](settings)


# -- PaperTrail ----------------------------------------------------------------------------
class PaperTrailSystem(System):
    name = "papertrail"

    def __init__(self, settings: Settings) -> None:
        self._engine = Engine.open(settings)

    def ingest(self, paths: Sequence[Path]) -> int:
        report = self._engine.ingest(paths, show_progress=True)
        if report.failed:
            raise ValueError("; ".join(str(f.error) for f in report.failed))
        return sum(f.chunks for f in report.files)

    def retrieve(self, question: str, k: int) -> list[Passage]:
        return self._engine.retrieve(question, k)

    def ask(self, question: str) -> Answer:
        return self._engine.ask(question)

    def ask_stream(self, question: str) -> Iterator[AnswerEvent]:
        return self._engine.ask_stream(question)

    def check(self, answer: Answer) -> list[ClaimCheck] | None:
        """The answer's sentences judged by rag.verify (eval.claims)."""
        from eval.claims import check_answer

        return check_answer(self._engine, answer)

    def passages(self) -> list[Passage]:
        return _stored_passages(self._engine.store.all_chunks())

    def document(self, doc_id: str) -> Document | None:
        return self._engine.document(doc_id)

    def remove(self, doc_ids: Sequence[str]) -> None:
        for doc_id in doc_ids:
            self._engine.remove(doc_id)


class GenerativeSystem(PaperTrailSystem):
    """PaperTrail with the configured LLM writing the answer (PAPERTRAIL_LLM__*)."""

    name = "papertrail-generative"

    def __init__(self, settings: Settings) -> None:
        answer = settings.answer.model_copy(update={"mode": "generative"})
        super().__init__(settings.model_copy(update={"answer": answer}))


class JudgedSystem(PaperTrailSystem):
    """The extractive answer, with the configured LLM judging answerability (`--judge`)."""

    name = "papertrail-judged"

    def __init__(self, settings: Settings) -> None:
        answer = settings.answer.model_copy(update={"mode": "extractive", "judge": "on"})
        super().__init__(settings.model_copy(update={"answer": answer}))


# -- Baselines on PaperTrail's chunks, in memory -----------------------------------------------
class _InMemory(System):
    """Shared by bm25 and random: cleaned documents and PaperTrail's chunks, kept in memory."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._documents: dict[str, Document] = {}
        self._chunks: list[Chunk] = []

    def ingest(self, paths: Sequence[Path]) -> int:
        for f in read_corpus(paths):
            self._documents[f.document.doc_id] = f.document
        self._chunks = [
            c for d in self._documents.values() for c in chunk_document(d, self._settings.chunking)
        ]
        self._reindex()
        return len(self._chunks)

    def _reindex(self) -> None:
        """Rebuild whatever the subclass searches."""

    def ask(self, question: str) -> Answer:
        return _concatenated(question, self.retrieve(question, ANSWER_PASSAGES))

    def passages(self) -> list[Passage]:
        return [self._passage(c, 0.0) for c in self._chunks]

    def document(self, doc_id: str) -> Document | None:
        return self._documents.get(doc_id)

    def remove(self, doc_ids: Sequence[str]) -> None:
        gone = set(doc_ids)
        self._documents = {k: v for k, v in self._documents.items() if k not in gone}
        self._chunks = [c for c in self._chunks if c.doc_id not in gone]
        self._reindex()

    def _passage(self, chunk: Chunk, score: float) -> Passage:
        doc = self._documents[chunk.doc_id]
        return Passage(
            **chunk.model_dump(exclude={"chunk_id", "doc_id"}),
            chunk_id=chunk.chunk_id,
            doc_id=chunk.doc_id,
            title=doc.title,
            source=doc.source,
            score=score,
        )


class BM25Baseline(_InMemory):
    name = "bm25"
    _bm25: Any = None

    def _reindex(self) -> None:
        import bm25s

        self._bm25 = bm25s.BM25()
        if self._chunks:
            tokens = _bm25_tokens([c.text for c in self._chunks], ids=True)
            self._bm25.index(tokens, show_progress=False)

    def retrieve(self, question: str, k: int) -> list[Passage]:
        if not self._chunks:
            return []
        words = [w for w in _bm25_tokens([question], ids=False)[0] if w in self._bm25.vocab_dict]
        if not words:
            return []
        ids, scores = self._bm25.retrieve(
            [words], k=min(k, len(self._chunks)), show_progress=False, n_threads=1
        )
        return [
            self._passage(self._chunks[i], float(s))
            for i, s in zip(ids[0], scores[0], strict=True)
            if s > 0
        ]


def _bm25_tokens(texts: list[str], *, ids: bool) -> Any:
    """bm25s's stock English tokenizer: stopwords removed, Snowball-stemmed."""
    import bm25s
    import Stemmer

    return bm25s.tokenize(
        texts,
        stopwords="en",
        stemmer=Stemmer.Stemmer("english").stemWords,
        return_ids=ids,
        show_progress=False,
    )


class RandomBaseline(_InMemory):
    name = "random"

    def retrieve(self, question: str, k: int) -> list[Passage]:
        rng = random.Random(zlib.crc32(question.encode()))  # same question, same draw
        picked = rng.sample(self._chunks, min(k, len(self._chunks)))
        return [self._passage(c, 0.0) for c in picked]


# -- Baselines on a vector store ------------------------------------------------------------
class DenseBaseline(_InMemory):
    """PaperTrail's chunks, one vector each from the same embedder; exact cosine search."""

    name = "dense"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._embedder = load_embedder(settings)
        self._vectors: dict[str, np.ndarray] = {}
        self._matrix = np.zeros((0, 0), dtype=np.float32)

    def _reindex(self) -> None:
        # Vectors are kept by chunk id, so removing documents re-embeds nothing.
        todo = [c for c in self._chunks if c.chunk_id not in self._vectors]
        if todo:
            vectors = self._embedder.get_text_embedding_batch(
                [c.text for c in todo], show_progress=True
            )
            self._vectors.update(
                {
                    c.chunk_id: np.asarray(v, dtype=np.float32)
                    for c, v in zip(todo, vectors, strict=True)
                }
            )
        rows = [self._vectors[c.chunk_id] for c in self._chunks]
        self._matrix = np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def retrieve(self, question: str, k: int) -> list[Passage]:
        if not self._chunks:
            return []
        sims = self._matrix @ np.asarray(self._embedder.get_query_embedding(question))
        top = np.argsort(-sims, kind="stable")[:k]
        return [self._passage(self._chunks[i], float(sims[i])) for i in top]


class LlamaIndexDefaultBaseline(System):
    """The stock LlamaIndex pipeline on PaperTrail's cleaned text, so offsets compare."""

    name = "llamaindex-default"

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings.index_dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(settings.index_dir / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        self._collection = client.get_or_create_collection("quickstart")
        # Stock embedding: LlamaIndex's HuggingFaceEmbedding on torch, as a newcomer gets it.
        # PaperTrail's ONNX/int8 export is PaperTrail's own speed-up, not the baseline's.
        self._embedder: BaseEmbedding = load_embedder(
            settings.model_copy(update={"embed_backend": "torch"})
        )
        self._documents: dict[str, Document] = {}
        self._index: Any = None

    def ingest(self, paths: Sequence[Path]) -> int:
        from llama_index.core import Document as LlamaDocument
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        docs = [f.document for f in read_corpus(paths)]
        self._documents.update({d.doc_id: d for d in docs})
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=self._collection)
        )
        self._index = VectorStoreIndex.from_documents(
            [
                LlamaDocument(text=d.text, id_=d.doc_id, metadata={"file_name": d.doc_id})
                for d in docs
            ],
            storage_context=storage,
            embed_model=self._embedder,
            transformations=[SentenceSplitter()],  # the default, passed so no global is read
            show_progress=True,
        )
        return self._collection.count()

    def retrieve(self, question: str, k: int) -> list[Passage]:
        hits = self._index.as_retriever(similarity_top_k=k).retrieve(question)
        return [self._passage(h) for h in hits]

    def ask(self, question: str) -> Answer:
        hits = self._index.as_retriever().retrieve(question)  # default similarity_top_k
        return _concatenated(question, [self._passage(h) for h in hits])

    def passages(self) -> list[Passage]:
        got = self._collection.get(include=["documents", "metadatas"])
        return _stored_passages((got["ids"], list(got["documents"] or []), got["metadatas"] or []))

    def document(self, doc_id: str) -> Document | None:
        return self._documents.get(doc_id)

    def remove(self, doc_ids: Sequence[str]) -> None:
        for doc_id in doc_ids:
            self._index.delete_ref_doc(doc_id, delete_from_docstore=True)
            self._documents.pop(doc_id, None)

    def _passage(self, hit: NodeWithScore) -> Passage:
        return _node_passage(hit.node, hit.score, self._documents)


# -- shared helpers ---------------------------------------------------------------------------
def _stored_passages(chunks: tuple[list[str], list[str], Sequence[Any]]) -> list[Passage]:
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    def node(chunk_id: str, text: str, m: dict[str, Any]) -> BaseNode:
        if "_node_content" in m:  # LlamaIndex's record format (the llamaindex-default baseline)
            return metadata_dict_to_node(m, text=text)
        start, end = int(m.get("start", 0)), int(m.get("end", 0))  # PaperTrail's flat records
        return TextNode(id_=chunk_id, text=text, metadata=m, start_char_idx=start, end_char_idx=end)

    ids, texts, metas = chunks
    return [
        _node_passage(node(i, t, dict(m)), 0.0) for i, t, m in zip(ids, texts, metas, strict=True)
    ]


def _node_passage(
    node: BaseNode, score: float | None, documents: dict[str, Document] | None = None
) -> Passage:
    meta = node.metadata
    doc_id = str(meta.get("doc_id") or node.ref_doc_id or "")
    doc = (documents or {}).get(doc_id)
    text = node.get_content()
    start = node.start_char_idx or 0
    return Passage(
        chunk_id=node.node_id,
        doc_id=doc_id,
        title=str(meta.get("title") or (doc.title if doc else doc_id)),
        source=str(meta.get("source") or (doc.source if doc else "")),
        text=text,
        start=start,
        end=node.end_char_idx or start + len(text),
        page=int(meta.get("page") or (doc.page_at(start).page if doc and doc.pages else 1)),
        section=str(meta.get("section") or "") or None,
        score=float(score or 0.0),
    )


def _concatenated(question: str, passages: list[Passage]) -> Answer:
    """The baselines' answer: the passages themselves, each cited in full."""
    citations = [
        Citation(
            n=n,
            doc_id=p.doc_id,
            title=p.title,
            source=p.source,
            page=p.page,
            section=p.section,
            passage=p.text,
            quote=p.text,
            quote_start=0,
            quote_end=len(p.text),
            chunk_id=p.chunk_id,
        )
        for n, p in enumerate(passages, start=1)
    ]
    return Answer(
        question=question,
        answer="\n\n".join(f"{p.text} [{n}]" for n, p in enumerate(passages, start=1)),
        abstained=False,
        citations=citations,
        passages=passages,
    )
