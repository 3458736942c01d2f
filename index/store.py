"""Chroma, the single source of truth: chunks with embeddings, and a document registry.

Three collections: `<name>` holds the chunks (via LlamaIndex's ChromaVectorStore);
`<name>-sentences` holds every sentence's offsets and vector, packed in one record per
document (the dense side scores a chunk by its best sentence, in memory, so sentences are
never searched by Chroma); `<name>-docs` holds one record per document: its cleaned text,
content hash, page and section spans. The chunk collection's metadata
records what shaped the vectors and a revision that changes on every write, so derived
caches can tell when they are stale.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from index.embedding import weights_digest
from index.errors import IndexMismatchError, PaperTrailError
from index.models import Chunk, Document, DocumentInfo, Element, PageSpan, SectionSpan
from index.sentences import Sentence
from index.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

__all__ = ["DocumentWrite", "Store", "open_store"]

_REGISTRY_VECTOR = [0.0]  # registry and sentence records are looked up by id only
_VECTOR_DTYPE = "<f4"  # packed sentence vectors: little-endian float32, bit-exact
_WRITE_GROUP = 100  # documents per Chroma call; well under Chroma's maximum batch size


def open_store(settings: Settings) -> Store:
    """Open (or create) the collections named in settings, local or on a Chroma server."""
    return Store(_client(settings), settings)


def _client(settings: Settings) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise PaperTrailError(f"chroma_url {settings.chroma_url!r} has no host")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise PaperTrailError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
            ) from exc
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(settings.index_dir / "chroma"), settings=chroma_settings
    )


class Store:
    def __init__(self, client: ClientAPI, settings: Settings) -> None:
        self._client = client
        self._name = settings.collection
        self._fingerprint = {
            **settings.index_fingerprint(),
            "embed_weights": weights_digest(settings.embed_model),
        }
        self.chunks: Collection = client.get_or_create_collection(
            self._name,
            metadata={**self._fingerprint, "revision": uuid.uuid4().hex},
            configuration={"hnsw": {"space": "cosine"}},
        )
        self.sentences: Collection = client.get_or_create_collection(f"{self._name}-sentences")
        self.registry: Collection = client.get_or_create_collection(f"{self._name}-docs")
        self._check_fingerprint()

    # -- identity -------------------------------------------------------------
    def _check_fingerprint(self) -> None:
        stored = self.chunks.metadata or {}
        diff = {
            k: (stored.get(k), wanted)
            for k, wanted in self._fingerprint.items()
            if stored.get(k) != wanted
        }
        if diff and self.chunks.count() > 0:
            details = ", ".join(
                f"{k}: index has {a!r}, settings ask {b!r}" for k, (a, b) in diff.items()
            )
            raise IndexMismatchError(
                f"collection {self._name!r} was built with other settings ({details}); "
                "use another collection (PAPERTRAIL_COLLECTION) or re-index into a new one"
            )
        if diff:  # empty collection: adopt the current settings
            # An older pipeline's sentence collection may hold records of another shape.
            self._client.delete_collection(self.sentences.name)
            self.sentences = self._client.get_or_create_collection(f"{self._name}-sentences")
            self._touch()

    def revision(self) -> str:
        """Changes whenever any process writes to the collection."""
        meta = self._client.get_collection(self._name).metadata or {}
        return f"{meta.get('revision', '')}:{self.chunks.count()}"

    def _touch(self) -> None:
        self.chunks.modify(metadata={**self._fingerprint, "revision": uuid.uuid4().hex})

    # -- LlamaIndex view ------------------------------------------------------
    def vector_store(self) -> ChromaVectorStore:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.chunks)

    # -- documents ------------------------------------------------------------
    def content_hash(self, doc_id: str) -> str | None:
        got = self.registry.get(ids=[doc_id], include=["metadatas"])
        metas = got["metadatas"] or []
        return str(metas[0]["content_hash"]) if metas else None

    def documents(self) -> list[DocumentInfo]:
        got = self.registry.get(include=["metadatas"])
        infos = [
            DocumentInfo(
                doc_id=doc_id,
                title=str(m["title"]),
                source=str(m["source"]),
                pages=int(m["pages"]),
                chunks=int(m["chunks"]),
                content_hash=str(m["content_hash"]),
                ingested_at=str(m["ingested_at"]),
            )
            for doc_id, m in zip(got["ids"], got["metadatas"] or [], strict=True)
        ]
        return sorted(infos, key=lambda d: d.title.lower())

    def document(self, doc_id: str) -> Document | None:
        """The cleaned document with its page and section spans."""
        got = self.registry.get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        m, text = (got["metadatas"] or [])[0], (got["documents"] or [])[0]
        return Document(
            doc_id=doc_id,
            title=str(m["title"]),
            source=str(m["source"]),
            content_hash=str(m["content_hash"]),
            text=text or "",
            pages=[PageSpan(**p) for p in json.loads(str(m["pages_json"]))],
            sections=[SectionSpan(**s) for s in json.loads(str(m["sections_json"]))],
            elements=[Element(**e) for e in json.loads(str(m.get("elements_json") or "[]"))],
        )

    def replace(
        self,
        document: Document,
        chunks: list[Chunk],
        chunk_vectors: list[list[float]],
        sentences: list[Sentence],
        sentence_vectors: np.ndarray,
    ) -> None:
        """Write a document's chunks and sentences, replacing any earlier version of it."""
        write = DocumentWrite(document, chunks, chunk_vectors, sentences, sentence_vectors)
        if failure := self.replace_many([write]).get(document.doc_id):
            raise failure

    def replace_many(self, writes: Sequence[DocumentWrite]) -> dict[str, Exception]:
        """Write several documents, each replacing its earlier version; the failures by doc id.

        One Chroma call per collection for a whole group: a call costs ~20 ms, which made
        writes most of the ingest time of many short documents. If a group fails, its
        documents are written one by one, so that one bad document cannot sink the rest.
        """
        failures: dict[str, Exception] = {}
        for start in range(0, len(writes), _WRITE_GROUP):
            group = writes[start : start + _WRITE_GROUP]
            try:
                self._write(group)
            except Exception as exc:
                if len(group) == 1:
                    failures[group[0].document.doc_id] = exc
                    continue
                for w in group:  # a rewrite deletes whatever the failed group left
                    try:
                        self._write([w])
                    except Exception as alone:
                        failures[w.document.doc_id] = alone
        if writes:
            self._touch()
        return failures

    def _write(self, writes: Sequence[DocumentWrite]) -> None:
        ids = [w.document.doc_id for w in writes]
        # Deleting by a metadata filter costs a scan per collection; new documents skip it.
        for doc_id in self.sentences.get(ids=ids, include=[])["ids"]:
            self._delete_parts(doc_id)
        # Sentence records go first: they mark that a document may have parts, even if a
        # crash stops this write before the chunks or the registry records.
        # One record per document, not per sentence: a sentence record cost Chroma an HNSW
        # insert and a full-text entry. The text is sliced from the document's stored text.
        self.sentences.add(
            ids=ids,
            embeddings=[_REGISTRY_VECTOR] * len(writes),
            metadatas=[_sentence_pack(w) for w in writes],
        )
        nodes = [
            _node(w.document, c, v)
            for w in writes
            for c, v in zip(w.chunks, w.chunk_vectors, strict=True)
        ]
        if nodes:
            self.vector_store().add(nodes)
        self.registry.upsert(
            ids=ids,
            documents=[w.document.text for w in writes],
            embeddings=[_REGISTRY_VECTOR] * len(writes),
            metadatas=[_registry_entry(w) for w in writes],
        )

    def _delete_parts(self, doc_id: str) -> None:
        self.chunks.delete(where={"doc_id": doc_id})
        self.sentences.delete(ids=[doc_id])

    def remove(self, doc_id: str) -> bool:
        if not self.registry.get(ids=[doc_id])["ids"]:
            return False
        self._delete_parts(doc_id)
        self.registry.delete(ids=[doc_id])
        self._touch()
        return True

    def all_sentences(self) -> tuple[list[dict[str, Any]], Any]:
        """Every sentence (doc_id, start, end, text) and the matrix of their vectors."""
        got = self.sentences.get(include=["metadatas"])
        packs = got["metadatas"] or []
        if not packs:
            return [], np.zeros((0, 0), dtype=np.float32)
        texts = self.registry.get(ids=list(got["ids"]), include=["documents"])
        text_of = dict(zip(texts["ids"], texts["documents"] or [], strict=True))
        metas: list[dict[str, Any]] = []
        blocks = []
        for pack in packs:
            doc_id = str(pack["doc_id"])
            spans = json.loads(str(pack["spans_json"]))
            if not spans:
                continue
            text = text_of.get(doc_id) or ""
            metas += [{"doc_id": doc_id, "start": a, "end": b, "text": text[a:b]} for a, b in spans]
            raw = base64.b64decode(str(pack["vectors_b64"]))
            blocks.append(np.frombuffer(raw, dtype=_VECTOR_DTYPE).reshape(len(spans), -1))
        if not blocks:
            return [], np.zeros((0, 0), dtype=np.float32)
        return metas, np.concatenate(blocks).astype(np.float32)

    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, text and metadata (for the keyword index)."""
        got = self.chunks.get(include=["documents", "metadatas"])
        return got["ids"], list(got["documents"] or []), [dict(m) for m in got["metadatas"] or []]


def _node(document: Document, chunk: Chunk, embedding: list[float]) -> TextNode:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    # Page and section boundaries inside the chunk, so each quote gets its own page/section.
    pages = [p for p in document.pages if chunk.start < p.start < chunk.end]
    sections = [s for s in document.sections if chunk.start < s.start < chunk.end]
    first_page, first_section = document.page_at(chunk.start), document.section_at(chunk.start)
    spans = {
        "pages": [p.model_dump() for p in ([first_page] if first_page else []) + pages],
        "sections": [s.model_dump() for s in ([first_section] if first_section else []) + sections],
    }
    metadata = {
        "doc_id": chunk.doc_id,
        "title": document.title,
        "source": document.source,
        "start": chunk.start,
        "end": chunk.end,
        "page": chunk.page,
        "page_label": chunk.page_label or "",
        "section": chunk.section or "",
        "kind": chunk.kind,
        "content_hash": document.content_hash,
        "spans_json": json.dumps(spans),
    }
    return TextNode(
        id_=chunk.chunk_id,
        text=chunk.text,
        embedding=embedding,
        start_char_idx=chunk.start,
        end_char_idx=chunk.end,
        metadata=metadata,
        # Provenance, not content: none of it goes into embeddings or prompts.
        excluded_embed_metadata_keys=list(metadata),
        excluded_llm_metadata_keys=list(metadata),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.doc_id)},
    )


@dataclass(frozen=True)
class DocumentWrite:
    """One document's parts as the store writes them."""

    document: Document
    chunks: list[Chunk]
    chunk_vectors: list[list[float]]
    sentences: list[Sentence]
    sentence_vectors: np.ndarray


def _sentence_pack(w: DocumentWrite) -> dict[str, Any]:
    vectors = np.ascontiguousarray(w.sentence_vectors, dtype=_VECTOR_DTYPE)
    return {
        "doc_id": w.document.doc_id,
        "spans_json": json.dumps([[s.start, s.end] for s in w.sentences]),
        "vectors_b64": base64.b64encode(vectors.tobytes()).decode("ascii"),
    }


def _registry_entry(w: DocumentWrite) -> dict[str, Any]:
    d = w.document
    return {
        "title": d.title,
        "source": d.source,
        "content_hash": d.content_hash,
        "pages": len(d.pages),
        "chunks": len(w.chunks),
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pages_json": json.dumps([p.model_dump() for p in d.pages]),
        "sections_json": json.dumps([s.model_dump() for s in d.sections]),
        "elements_json": json.dumps([e.model_dump() for e in d.elements]),
    }
