"""Chroma, the single source of truth: chunks with embeddings, and a document registry.

Three collections: `<name>` holds the chunks (vector and flat metadata, no text);
`<name>-sentences` holds every sentence's offsets, packed in one record per document, and
their vectors: in a float16 .npy file beside Chroma named by the record's id (embedded), or
in the record (server). The dense side scores a chunk by its best sentence, in memory, so
sentences are never searched by Chroma. `<name>-docs` holds one record per document: its
cleaned text, content hash, page and section spans. The chunk collection's metadata
records what shaped the vectors and a revision that changes on every write, so derived
caches can tell when they are stale.

A document's write is atomic from the reader's side. Each write has a generation; its
chunks and sentence records carry it, and the registry record, written last, names the
one generation readers see. Until that record lands nothing of the write is visible, and
an earlier version stays whole. A fourth collection, `<name>-pending`, holds an intent
record for every write or removal in progress; opening the store clears what a dead
writer left behind, and `doctor` finds records that no registry entry names.
"""

from __future__ import annotations

import base64
import json
import mmap
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from index.duplicates import Signature
from index.embedding import weights_digest
from index.errors import IndexMismatchError, PaperTrailError
from index.loaders import reader_version
from index.models import (
    Chunk,
    DoctorReport,
    Document,
    DocumentInfo,
    DocumentMetadata,
    Element,
    PageSpan,
    SectionSpan,
)
from index.sentences import Sentence
from index.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import TextNode

__all__ = ["DocumentWrite", "Identities", "Store", "chroma_errors", "open_store", "source_key"]

_REGISTRY_VECTOR = [0.0]  # registry and sentence records are looked up by id only
# Sentence vectors are stored as little-endian float16: half the bytes (2.1 -> 1.05 GB of
# 6.2 at 9,800 papers) for cosines that move by < 1e-3. Records written before, float32
# without a "vectors_dtype", are read as they are.
_VECTOR_DTYPE = "<f2"
_READ_DTYPES = frozenset({np.dtype("<f2"), np.dtype("<f4")})
# np.save's header: its keys always in this order (np.lib.format parses it with
# ast.literal_eval, which was half of mapping a document's file).
_NPY_HEADER = re.compile(
    r"\{'descr': '(<f[24])', 'fortran_order': False, 'shape': \((\d+), (\d+)\), \}"
)
# The registry fields that list documents (documents(), generations(), identities(),
# signatures()): all but the page, section and element JSON.
_LISTED = frozenset(
    {"generation", "title", "source", "pages", "chunks", "content_hash", "ingested_at"}
    | {"duplicate_of", "preferred", "meta_json", "collections_json"}
    | {"source_key", "reader", "minhash", "shingles", "written_ns"}
)
_WRITTEN = "written_ns"  # when a registry record was last written (time.time_ns())
# A listing read again reads only the records written since the newest it holds, less
# this much (clocks of other machines, and a write's time taken before it lands).
_WRITE_MARGIN_NS = 120 * 10**9
_LISTING_SAVED_EVERY_S = 60.0  # the listing kept on disk, for the next process to open
_WRITE_GROUP = 100  # documents per registry call; well under Chroma's maximum batch size
_SENTENCES_PER_RECORD = 4096  # packed sentence vectors per record: ~8 MB, not 300 MB
# A write from another machine that has not finished after this long is taken for dead.
_PENDING_EXPIRES_S = 6 * 3600
_IDENTITY_VERSION = 2  # 2: registry records name their source file (source_key)
_UPLOAD_KEY = "upload:"  # an upload's source key is its name (Store.key)


def open_store(settings: Settings) -> Store:
    """Open (or create) the collections named in settings, local or on a Chroma server."""
    with chroma_errors(settings.chroma_url):
        return Store(_client(settings), settings)


@contextmanager
def chroma_errors(chroma_url: str | None) -> Iterator[None]:
    """A lost Chroma server becomes the one-line error that the CLI and the UI show."""
    try:
        yield
    except PaperTrailError:
        raise
    except Exception as exc:
        if chroma_url and _unreachable(exc):
            raise PaperTrailError(
                f"cannot reach the Chroma server at {chroma_url} ({_root_cause(exc)}); "
                "is it running?"
            ) from exc
        raise


def _unreachable(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError | ConnectionError)


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


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
        self._url = settings.chroma_url
        self._name = settings.collection
        # Embedded: sentence vectors in .npy files beside Chroma, not base64 in its metadata,
        # which SQLite kept three times (value, string index, write-ahead log): 40 of the
        # index's 73 bytes per source character. A server has no such folder: packs keep them.
        self._vector_dir = (
            None if settings.chroma_url else settings.index_dir / "sentences" / settings.collection
        )
        # Where the UI and the HTTP API keep uploads (INDEX_DIR/uploads/NAME): see key().
        self._uploads = (settings.index_dir / "uploads").resolve()
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
        self.pending: Collection = client.get_or_create_collection(f"{self._name}-pending")
        # Chroma refuses larger calls ("Batch size of 6889 is greater than max batch size").
        self._batch = client.get_max_batch_size()
        self._listed: tuple[str, list[tuple[str, dict[str, Any]]]] = ("", [])
        # Kept beside the index: opening reads it instead of every registry record (2 s
        # at 9,800 papers), then only what was written since.
        self._listing_file = settings.index_dir / "cache" / f"{self._name}-listing.json"
        self._listing_saved = 0.0
        self._listing_read_ns = 0  # when this process last read the registry (its clock)
        self._infos: tuple[str, list[DocumentInfo]] = ("", [])
        self._info_by_id: dict[str, DocumentInfo] = {}
        self._info_by_written: dict[tuple[str, Any, Any], DocumentInfo] = {}
        self._check_fingerprint()
        self._recover()
        self._migrate_identity()

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

    def _migrate_identity(self) -> None:
        """Registry records written before identities were kept learn their source file."""
        if (self.registry.metadata or {}).get("identity_version") == _IDENTITY_VERSION:
            return
        got = self.registry.get(include=["metadatas"])
        old = [
            (doc_id, {"source_key": source_key(str(m["source"])), _WRITTEN: time.time_ns()})
            for doc_id, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            if "source_key" not in m
        ]
        for batch in _batches(old, self._batch):
            self.registry.update(ids=[i for i, _ in batch], metadatas=[m for _, m in batch])
        self.registry.modify(metadata={"identity_version": _IDENTITY_VERSION})

    def identities(self) -> Identities:
        """Which file each document came from, read once for a batch of files."""
        listing = self._listing()
        known = {
            str(m.get("source_key")): (doc_id, str(m["content_hash"])) for doc_id, m in listing
        }
        older = {
            str(m.get("source_key"))
            for _, m in listing
            if int(m.get("reader") or 1) < reader_version(str(m.get("source_key")))
        }
        # A file another process is writing right now keeps the id it is written under.
        live = self._live_pending()
        for m in live:
            if m.get("source_key") and m["source_key"] not in known:
                known[str(m["source_key"])] = (str(m["doc_id"]), "")
        taken = {doc_id for doc_id, _ in listing} | {str(m["doc_id"]) for m in live}
        return Identities(known, taken, older=older, key=self.key)

    def key(self, path: str | Path) -> str:
        """What identifies a document's file in this library: its absolute path, except for
        an upload (INDEX_DIR/uploads/NAME), which is its name. Each process serving a
        shared library keeps uploads in its own folder, so an upload through any of them
        replaces the earlier upload of that name, as it does through one."""
        resolved = Path(source_key(path))
        if resolved.parent == self._uploads:
            return f"{_UPLOAD_KEY}{resolved.name}"
        return str(resolved)

    def revision(self) -> str:
        """Changes whenever any process writes to the collection: every write sets a new
        revision after its commit. (It also held the chunk count: 30 ms a question at
        73,000 chunks, as Chroma counts them.)"""
        meta = self._client.get_collection(self._name).metadata or {}
        return str(meta.get("revision", ""))

    def _touch(self) -> None:
        self.chunks.modify(metadata={**self._fingerprint, "revision": uuid.uuid4().hex})

    # -- documents ------------------------------------------------------------
    def content_hash(self, doc_id: str) -> str | None:
        got = self.registry.get(ids=[doc_id], include=["metadatas"])
        metas = got["metadatas"] or []
        return str(metas[0]["content_hash"]) if metas else None

    def _listing(self) -> list[tuple[str, dict[str, Any]]]:
        """(doc id, the registry's small fields) of every document, once per revision; read
        again, only the records written since (and any id not seen yet) are read."""
        revision = self.revision()  # before the read: what is read is at least this new
        if self._listed[0] == revision:
            return self._listed[1]
        previous = dict(self._listed[1])
        if not self._listed[0]:
            saved_revision, previous = self._saved_listing()
            # Trusted as it is only if the same documents are there: a record removed by
            # hand (or by a write that died before its revision) changes no revision.
            if saved_revision == revision and set(self.registry.get(include=[])["ids"]) == set(
                previous
            ):
                self._listed = (revision, list(previous.items()))
                return self._listed[1]
        full = not previous
        rows = self._read_listing(previous)
        self._listed = (revision, rows)
        if full or time.monotonic() - self._listing_saved > _LISTING_SAVED_EVERY_S:
            self._save_listing(revision, rows)
        return rows

    def _read_listing(
        self, previous: dict[str, dict[str, Any]]
    ) -> list[tuple[str, dict[str, Any]]]:
        def small(m: dict[str, Any]) -> dict[str, Any]:
            return {k: m[k] for k in _LISTED if k in m}

        if not previous:
            self._listing_read_ns = time.time_ns()
            got = self.registry.get(include=["metadatas"])
            return [(d, small(m)) for d, m in zip(got["ids"], got["metadatas"] or [], strict=True)]
        ids = self.registry.get(include=[])["ids"]
        newest = max((int(m.get(_WRITTEN) or 0) for m in previous.values()), default=0)
        # From the newest record held or this process's last read, whichever is earlier:
        # a writer whose clock is behind is still read.
        since = min(newest, self._listing_read_ns or newest) - _WRITE_MARGIN_NS
        self._listing_read_ns = time.time_ns()
        got = self.registry.get(where={_WRITTEN: {"$gte": since}}, include=["metadatas"])
        fresh = {d: small(m) for d, m in zip(got["ids"], got["metadatas"] or [], strict=True)}
        unseen = [d for d in ids if d not in fresh and d not in previous]
        changed = any(previous.get(d) != m for d, m in fresh.items())
        if not (changed or unseen or set(ids) != set(previous)):
            # The revision moved but nothing in the window did: a record written without
            # a time (an older version) or with a clock far behind. Read them all.
            return self._read_listing({})
        for batch in _batches(unseen, self._batch):
            more = self.registry.get(ids=batch, include=["metadatas"])
            fresh.update(
                {d: small(m) for d, m in zip(more["ids"], more["metadatas"] or [], strict=True)}
            )
        return [
            (d, fresh[d] if d in fresh else previous[d]) for d in ids if d in fresh or d in previous
        ]

    def _listing_key(self) -> str:
        return f"{self._url or 'embedded'}|{self._name}|{self.registry.id}"

    def _saved_listing(self) -> tuple[str, dict[str, dict[str, Any]]]:
        try:
            saved = json.loads(self._listing_file.read_text(encoding="utf-8"))
            if saved.get("key") != self._listing_key():
                return "", {}
            self._listing_read_ns = int(saved.get("read_ns") or 0)
            return str(saved["revision"]), {str(d): dict(m) for d, m in saved["rows"]}
        except (OSError, ValueError, KeyError, TypeError):
            return "", {}

    def _save_listing(self, revision: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
        data = {
            "key": self._listing_key(),
            "revision": revision,
            "read_ns": self._listing_read_ns,
            "rows": rows,
        }
        tmp = self._listing_file.with_name(f".{self._listing_file.name}.{uuid.uuid4().hex[:8]}")
        try:
            self._listing_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(self._listing_file)  # whole or not at all, for any reader
            self._listing_saved = time.monotonic()
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only index still answers

    def documents(self) -> list[DocumentInfo]:
        listing = self._listing()
        if self._infos[0] == self._listed[0]:
            return list(self._infos[1])  # every answer reads them for its references
        # A record's info is made again only when it was written again (0.26 s for all
        # 9,800 on each new revision, i.e. in adding one paper).
        known = self._info_by_written
        self._info_by_written = {}
        infos = []
        for doc_id, m in listing:
            key = (doc_id, m.get(_WRITTEN), m.get("generation"))
            info = known.get(key) or self._info(doc_id, m)
            self._info_by_written[key] = info
            infos.append(info)
        self._infos = (self._listed[0], sorted(infos, key=lambda d: d.title.lower()))
        self._info_by_id = {d.doc_id: d for d in infos}
        return list(self._infos[1])

    @staticmethod
    def _info(doc_id: str, m: dict[str, Any]) -> DocumentInfo:
        return DocumentInfo.model_construct(  # converted here: validating cost 0.1 s at k = 10
            doc_id=doc_id,
            title=str(m["title"]),
            source=str(m["source"]),
            pages=int(m["pages"]),
            chunks=int(m["chunks"]),
            content_hash=str(m["content_hash"]),
            ingested_at=str(m["ingested_at"]),
            duplicate_of=str(m.get("duplicate_of") or "") or None,
            preferred=bool(m.get("preferred", False)),
            metadata=_metadata(m),
            collections=json.loads(str(m.get("collections_json") or "[]")),
        )

    def document_infos(self, doc_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        """The listed documents among `doc_ids`, by id: an answer's references look up its
        cited documents, not all of them (building the map of 9,800 cost 6 ms a question)."""
        self.documents()
        return {d: self._info_by_id[d] for d in doc_ids if d in self._info_by_id}

    def signatures(self) -> list[tuple[str, Signature, str | None]]:
        """(doc id, shingle signature, the document it duplicates) of each indexed document;
        records written before signatures were kept have none and are left out."""
        return [
            (
                doc_id,
                Signature.decode(str(m["minhash"]), int(m.get("shingles") or 0)),
                str(m.get("duplicate_of") or "") or None,
            )
            for doc_id, m in self._listing()
            if m.get("minhash")
        ]

    def prefer(self, doc_id: str) -> bool:
        """Mark `doc_id` as the copy that answers cite among its duplicates; False if unknown."""
        infos = {d.doc_id: d for d in self.documents()}
        if doc_id not in infos:
            return False
        root = infos[doc_id].duplicate_of or doc_id
        group = [d for d, i in infos.items() if d == root or i.duplicate_of == root]
        self.registry.update(
            ids=group,
            metadatas=[{"preferred": d == doc_id, _WRITTEN: time.time_ns()} for d in group],
        )
        self._touch()
        return True

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
            metadata=_metadata(m),
            collections=json.loads(str(m.get("collections_json") or "[]")),
        )

    def set_metadata(
        self, doc_id: str, metadata: DocumentMetadata, collections: list[str] | None = None
    ) -> bool:
        """Store a document's bibliographic fields (and collections): no re-indexing."""
        if not self.registry.get(ids=[doc_id], include=[])["ids"]:
            return False
        fields: dict[str, Any] = {"meta_json": metadata.model_dump_json(), _WRITTEN: time.time_ns()}
        if metadata.title and metadata.sources.get("title") == "user":
            fields["title"] = metadata.title  # the list shows the corrected title
        if collections is not None:
            fields["collections_json"] = json.dumps(collections)
        self.registry.update(ids=[doc_id], metadatas=[fields])
        self._touch()
        return True

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

        One registry call for a whole group: a call costs ~20 ms, which made writes most
        of the ingest time of many short documents. If a group fails, its documents are
        written one by one, so that one bad document cannot sink the rest.
        """
        failures: dict[str, Exception] = {}
        for group in _batches(list(writes), _WRITE_GROUP):
            try:
                with chroma_errors(self._url):
                    self._write(group)
            except Exception as exc:
                if len(group) == 1:
                    failures[group[0].document.doc_id] = exc
                    continue
                for w in group:
                    try:
                        with chroma_errors(self._url):
                            self._write([w])
                    except Exception as alone:
                        failures[w.document.doc_id] = alone
        return failures

    def _write(self, writes: Sequence[DocumentWrite]) -> None:
        """Parts first, registry record last: readers see the old version or the new one."""
        generation = uuid.uuid4().hex[:12]
        ids = [w.document.doc_id for w in writes]
        keys = [self.key(w.document.source) for w in writes]
        self._intend(ids, generation, keys)
        try:
            self._add_parts(writes, generation)
            self._check_owners(writes)
            self.registry.upsert(  # the commit
                ids=ids,
                documents=[w.document.text for w in writes],
                embeddings=[_REGISTRY_VECTOR] * len(writes),
                metadatas=[
                    _registry_entry(w, generation, k) for w, k in zip(writes, keys, strict=True)
                ],
            )
        except BaseException:
            self._discard(ids, generation)
            raise
        self._touch()
        contested = any(self._live_generations().get(d, set()) - {generation} for d in ids)
        self._drop_stale(ids)
        self.pending.delete(ids=[_pending_id(d, generation) for d in ids])
        if contested:
            # Another writer of the same document was at work: its parts were kept while it
            # was live. The last one out clears whichever version lost.
            self._drop_stale(ids)

    def _add_parts(self, writes: Sequence[DocumentWrite], generation: str) -> None:
        packs = []
        for w in writes:
            for k, (pack, vectors) in enumerate(_sentence_packs(w, generation)):
                part_id = f"{w.document.doc_id}@{generation}/{k}"
                if self._vector_dir is None:
                    pack["vectors_b64"] = base64.b64encode(vectors.tobytes()).decode("ascii")
                    pack["vectors_dtype"] = _VECTOR_DTYPE
                else:
                    self._vector_dir.mkdir(parents=True, exist_ok=True)
                    np.save(self._vector_file(part_id), vectors)
                    pack["vectors_file"] = self._vector_file(part_id).name
                packs.append((part_id, pack))
        for batch in _batches(packs, self._batch):
            self.sentences.add(
                ids=[i for i, _ in batch],
                embeddings=[_REGISTRY_VECTOR] * len(batch),
                metadatas=[m for _, m in batch],
            )
        nodes = [
            _node(w.document, c, v, generation)
            for w in writes
            for c, v in zip(w.chunks, w.chunk_vectors, strict=True)
        ]
        for batch in _batches(nodes, self._batch):
            # The node's own flat metadata, no text: a chunk's text is its document's text at
            # its offsets. LlamaIndex's record format (a JSON copy of the node, the text as a
            # Chroma document, which Chroma also indexes for full-text search) made up 44 % of
            # chroma.sqlite3 at 392 papers, and nothing searched it. The Chroma id carries the
            # generation while the node keeps its chunk id.
            self.chunks.add(
                ids=[f"{n.node_id}@{generation}" for n in batch],
                embeddings=[n.get_embedding() for n in batch],
                metadatas=[n.metadata for n in batch],
            )

    def _check_owners(self, writes: Sequence[DocumentWrite]) -> None:
        """Two files never share an id: one that another file took meanwhile is refused."""
        got = self.registry.get(ids=[w.document.doc_id for w in writes], include=["metadatas"])
        owner = {
            i: m.get("source_key") for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
        }
        for w in writes:
            key = owner.get(w.document.doc_id)
            source = w.document.source
            if key and key not in (self.key(source), source_key(source), w.replaces):
                raise PaperTrailError(
                    f"{w.document.source}: id {w.document.doc_id!r} was taken meanwhile by "
                    f"{key}; ingest the file again"
                )

    # -- crash safety -----------------------------------------------------------
    def _intend(
        self, doc_ids: Sequence[str], generation: str, keys: Sequence[str] | None = None
    ) -> None:
        """Record a write in progress, so that a crash's leftovers can be found."""
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        self.pending.upsert(
            ids=[_pending_id(d, generation) for d in doc_ids],
            embeddings=[_REGISTRY_VECTOR] * len(doc_ids),
            metadatas=[
                {"doc_id": d, "generation": generation, "source_key": k, **me}
                for d, k in zip(doc_ids, keys or [""] * len(doc_ids), strict=True)
            ],
        )

    def _discard(self, doc_ids: Sequence[str], generation: str) -> None:
        """Undo a failed write's parts; if that fails too, the next open clears them."""
        try:
            self._drop_stale(doc_ids, ignore={generation})
            self._drop_vector_files(doc_ids, generation)
            self.pending.delete(ids=[_pending_id(d, generation) for d in doc_ids])
        except Exception:
            pass

    def _drop_vector_files(self, doc_ids: Sequence[str], generation: str) -> None:
        """A failed write's vector files, also those saved before their record was added."""
        if self._vector_dir is None:
            return
        got = self.registry.get(ids=list(doc_ids), include=["metadatas"])
        committed = {
            i
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            if (m or {}).get("generation") == generation
        }
        for doc_id in set(doc_ids) - committed:  # a write that committed keeps its files
            k = 0
            while (path := self._vector_file(f"{doc_id}@{generation}/{k}")).exists():
                path.unlink(missing_ok=True)
                k += 1

    def _recover(self) -> None:
        """Clear what writers that died mid-write left: their parts are never visible."""
        got = self.pending.get(include=["metadatas"])
        dead = [
            (pending_id, m)
            for pending_id, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            if not _alive(m)
        ]
        for pending_id, m in dead:
            self._drop_stale([str(m["doc_id"])], ignore={str(m["generation"])})
            self._drop_vector_files([str(m["doc_id"])], str(m["generation"]))
            self.pending.delete(ids=[pending_id])
        if dead:
            self._touch()

    def _drop_stale(self, doc_ids: Sequence[str], *, ignore: set[str] | None = None) -> int:
        """Delete documents' parts that neither their registry record nor a live write names."""
        # Live writes first, then the registry: a write that commits in between is kept.
        live = self._live_generations()
        got = self.registry.get(ids=list(doc_ids), include=["metadatas"])
        committed = {
            i: (m or {}).get("generation")
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
        }
        stale = []
        for collection in (self.chunks, self.sentences):
            where = {"doc_id": {"$in": list(doc_ids)}}
            for part_id in collection.get(where=where, include=[])["ids"]:
                doc_id, generation = _parse_part_id(part_id)
                keep = live.get(doc_id, set()) - (ignore or set())
                if doc_id in committed:
                    keep.add(committed[doc_id])
                if generation not in keep:
                    stale.append((collection, part_id))
        self._delete_parts(stale)
        return len(stale)

    def _live_pending(self) -> list[dict[str, Any]]:
        got = self.pending.get(include=["metadatas"])
        return [dict(m) for m in got["metadatas"] or [] if _alive(m)]

    def _live_generations(self) -> dict[str, set[str | None]]:
        live: dict[str, set[str | None]] = {}
        for m in self._live_pending():
            live.setdefault(str(m["doc_id"]), set()).add(str(m["generation"]))
        return live

    def _delete_parts(self, parts: Sequence[tuple[Collection, str]]) -> None:
        for collection in (self.chunks, self.sentences):
            ids = [i for c, i in parts if c is collection]
            for batch in _batches(ids, self._batch):
                collection.delete(ids=batch)
        if self._vector_dir is not None:
            for c, part_id in parts:
                if c is self.sentences:
                    self._vector_file(part_id).unlink(missing_ok=True)

    def warm_writes(self) -> None:
        """Load the chunk collection's segments (its vector index) now: Chroma loads them on
        a collection's first use in a process, and PaperTrail's reads never use it, so the
        first paper added after opening paid it (2.3 of 3.4 s at 9,800 papers)."""
        if self._url is None:  # a server holds them loaded
            self.chunks.get(ids=["\x00warm"], include=[])

    @property
    def keeps_vector_files(self) -> bool:
        """Whether sentence vectors live in files beside Chroma (embedded), which a derived
        cache can read instead of keeping its own copy."""
        return self._vector_dir is not None

    def vector_files(self, doc_id: str, generation: str, n: int) -> list[Path] | None:
        """The files holding a document version's n sentence vectors; None with a server."""
        if self._vector_dir is None:
            return None
        packs = -(-n // _SENTENCES_PER_RECORD)
        return [self._vector_file(f"{doc_id}@{generation}/{k}") for k in range(packs)]

    def map_sentence_vectors(self, doc_id: str, generation: str, n: int) -> np.ndarray | None:
        """A document version's n sentence vectors memory-mapped from its file (float16, or
        float32 if written before; rows in offset order, read from disk only as rows are
        used); a document in several files is read into memory. None with a server, or when
        a file is gone or does not hold what is expected."""
        paths = self.vector_files(doc_id, generation, n)
        if paths is None:
            return None
        try:
            parts = [_map_npy(p) for p in paths]
        except (OSError, ValueError):
            return None
        if any(p is None for p in parts):
            return None
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)  # type: ignore[arg-type]
        return out if out is not None and len(out) == n else None

    def sentence_vectors(self, doc_id: str, generation: str, n: int) -> np.ndarray | None:
        """A document version's n sentence vectors (float32, in offset order) read from their
        files, no Chroma call; None with a server, or when a file is gone (replaced)."""
        paths = self.vector_files(doc_id, generation, n)
        if paths is None:
            return None
        try:
            blocks = [np.load(path) for path in paths]
        except (OSError, ValueError):
            return None
        if not blocks:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = np.concatenate(blocks).astype(np.float32)
        return vectors if len(vectors) == n else None

    def _vector_file(self, part_id: str) -> Path:
        """A sentence record's vectors, named by its id (which may hold any character)."""
        assert self._vector_dir is not None
        return self._vector_dir / f"{sha256(part_id.encode()).hexdigest()[:32]}.npy"

    def remove(self, doc_id: str) -> bool:
        """Remove a document, or the leftover records of one that has no registry entry."""
        registered = bool(self.registry.get(ids=[doc_id], include=[])["ids"])
        leftovers = any(
            c.get(where={"doc_id": doc_id}, include=[], limit=1)["ids"]
            for c in (self.chunks, self.sentences)
        )
        if not registered and not leftovers:
            return False
        generation = "remove-" + uuid.uuid4().hex[:12]
        self._intend([doc_id], generation)
        self.registry.delete(ids=[doc_id])  # gone for readers from here on
        self._touch()
        self._drop_stale([doc_id])
        self.pending.delete(ids=[_pending_id(doc_id, generation)])
        return True

    def doctor(self, *, repair: bool = True) -> DoctorReport:
        """Find (and by default delete) records that no registry entry names."""
        live = self._live_generations()
        visible = self._visible()[0]
        orphans = [
            (collection, part_id)
            for collection in (self.chunks, self.sentences)
            for part_id in collection.get(include=[])["ids"]
            if not _kept(part_id, visible, live)
        ]
        if repair and orphans:
            self._delete_parts(orphans)
            self._touch()
        return DoctorReport(
            documents=len(visible),
            orphaned_documents=sorted({_parse_part_id(i)[0] for _, i in orphans}),
            orphaned_chunks=sum(c is self.chunks for c, _ in orphans),
            orphaned_sentence_records=sum(c is self.sentences for c, _ in orphans),
            writes_in_progress=sorted(live),
            repaired=repair and bool(orphans),
        )

    # -- what readers see -------------------------------------------------------------
    def _visible(self) -> tuple[dict[str, str | None], dict[str, str]]:
        """Each registered document's visible generation, and its text."""
        got = self.registry.get(include=["metadatas", "documents"])
        generations = {
            i: (m or {}).get("generation")
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
        }
        return generations, dict(zip(got["ids"], got["documents"] or [], strict=True))

    def snapshot(
        self,
    ) -> tuple[tuple[list[str], list[str], list[dict[str, Any]]], tuple[list[dict[str, Any]], Any]]:
        """all_chunks() and all_sentences() as of one registry read."""
        generations, texts = self._visible()
        return self._chunks_in(generations, texts), self._sentences_in(generations, texts)

    def all_sentences(self) -> tuple[list[dict[str, Any]], Any]:
        """Every visible sentence (doc_id, start, end, text) and the matrix of their vectors."""
        return self._sentences_in(*self._visible())

    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every visible chunk's id, text and metadata (for the keyword index)."""
        return self._chunks_in(*self._visible())

    def generations(self) -> dict[str, str]:
        """Each registered document's visible version: what a derived cache is keyed by."""
        return {i: str(m.get("generation")) for i, m in self._listing()}

    def parts(
        self, doc_ids: Sequence[str]
    ) -> tuple[
        list[tuple[str, str, dict[str, Any]]],
        list[tuple[str, int, int, np.ndarray]],
        dict[str, str],
    ]:
        """The visible chunks (id, text, metadata), sentences (doc, start, end, vector) and
        texts of some documents: a derived cache reads only what changed."""
        chunks: list[tuple[str, str, dict[str, Any]]] = []
        sentences: list[tuple[str, int, int, np.ndarray]] = []
        texts: dict[str, str] = {}
        for batch in _batches(list(doc_ids), _WRITE_GROUP):
            got = self.registry.get(ids=batch, include=["metadatas", "documents"])
            generations = {
                i: (m or {}).get("generation")
                for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            }
            texts.update(zip(got["ids"], got["documents"] or [], strict=True))
            where = {"doc_id": {"$in": batch}}
            ids, docs, metas = self._chunks_in(generations, texts, where)
            chunks += zip(ids, docs, metas, strict=True)
            metas_s, vectors = self._sentences_in(generations, texts, where)
            sentences += [
                (m["doc_id"], m["start"], m["end"], v)
                for m, v in zip(metas_s, vectors, strict=True)
            ]
        return chunks, sentences, texts

    def _sentences_in(
        self,
        generations: dict[str, str | None],
        texts: dict[str, str],
        where: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], Any]:
        got = self.sentences.get(where=where, include=["metadatas"])
        metas: list[dict[str, Any]] = []
        blocks = []
        for pack in got["metadatas"] or []:
            doc_id = str(pack["doc_id"])
            if doc_id not in generations or pack.get("generation") != generations[doc_id]:
                continue  # not committed, or an older version
            spans = json.loads(str(pack["spans_json"]))
            if not spans:
                continue
            text = texts.get(doc_id) or ""
            metas += [{"doc_id": doc_id, "start": a, "end": b, "text": text[a:b]} for a, b in spans]
            if "vectors_file" in pack and self._vector_dir is not None:
                blocks.append(np.load(self._vector_dir / str(pack["vectors_file"])))
            else:
                raw = base64.b64decode(str(pack["vectors_b64"]))
                dtype = str(pack.get("vectors_dtype") or "<f4")
                blocks.append(np.frombuffer(raw, dtype=dtype).reshape(len(spans), -1))
        if not blocks:
            return [], np.zeros((0, 0), dtype=np.float32)
        return metas, np.concatenate(blocks).astype(np.float32)

    def _chunks_in(
        self,
        generations: dict[str, str | None],
        texts: dict[str, str],
        where: dict[str, Any] | None = None,
    ) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        got = self.chunks.get(where=where, include=["documents", "metadatas"])
        out: tuple[list[str], list[str], list[dict[str, Any]]] = ([], [], [])
        for chunk_id, text, m in zip(
            got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
        ):
            doc_id = str(m.get("doc_id"))
            if doc_id not in generations or m.get("generation") != generations[doc_id]:
                continue
            out[0].append(str(m.get("chunk_id") or chunk_id))
            # Records written before texts were left out still carry theirs.
            whole = texts.get(doc_id) or ""
            out[1].append(text or whole[int(m.get("start", 0)) : int(m.get("end", 0))])
            out[2].append(dict(m))
        return out


@dataclass
class Identities:
    """Document ids by source file, and the ids already taken; one batch's view."""

    known: dict[str, tuple[str, str]]  # source key -> (doc id, content hash)
    taken: set[str]
    rebound: dict[str, str] = field(default_factory=dict)  # new source key -> replaced one
    older: set[str] = field(default_factory=set)  # source keys read by an older reader
    key: Callable[[str | Path], str] = field(default_factory=lambda: source_key)  # Store.key

    def read_by_older_reader(self, path: str | Path) -> bool:
        """Whether the file's document was indexed by an older reader of its kind."""
        return bool({self.key(path), source_key(path)} & self.older)

    def resolve(self, path: str | Path, name_id: str) -> tuple[str, str | None]:
        """(doc id, content hash indexed so far) for a file: its own id if it has one, else
        its name's, or its name's with `~` and a short hash of its path when that is taken."""
        key = self.key(path)
        for known in (key, source_key(path)):  # an upload indexed before uploads had names
            if known in self.known:
                return self.known[known]
        digest = sha256(key.encode()).hexdigest()
        for candidate in (name_id, f"{name_id}~{digest[:6]}", f"{name_id}~{digest}"):
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate, None
        raise PaperTrailError(f"{path}: no free document id for {name_id!r}")

    def rebind(self, path: str | Path, doc_id: str) -> tuple[str, str]:
        """(doc id, content hash) for a file the user asked to replace document `doc_id`
        with, e.g. the published version of a preprint saved under another name."""
        key = self.key(path)
        old_key = next((k for k, (known_id, _) in self.known.items() if known_id == doc_id), None)
        if old_key is None:
            raise PaperTrailError(f"{path}: cannot replace {doc_id}: no such document")
        own = self.known.get(key)
        if own and own[0] != doc_id:
            raise PaperTrailError(
                f"{path}: already indexed as {own[0]}; remove it first to replace {doc_id}"
            )
        self.known[key] = self.known.pop(old_key)
        self.rebound[key] = self.rebound[source_key(path)] = old_key  # the indexer asks by path
        return self.known[key]


def source_key(path: str | Path) -> str:
    """What identifies a document's file: its absolute path."""
    return str(Path(path).resolve())


def _map_npy(path: Path) -> np.ndarray | None:
    """A 2-D float16 or float32 .npy file as an array over a read-only memory map; None if
    it holds anything else. (np.load's mmap_mode took 0.36 ms a file, 21 ms of a question
    that maps the documents of its shortlist; this takes a tenth.)"""
    with open(path, "rb") as f:
        head = f.read(10)
        if head[:6] != b"\x93NUMPY":
            return None
        if head[6] == 1:
            offset = 10 + int.from_bytes(head[8:10], "little")
        else:
            offset = 12 + int.from_bytes(head[8:10] + f.read(2), "little")
        header = f.read(offset - f.tell()).decode("latin1")
        found = _NPY_HEADER.match(header)
        if found:
            dtype, shape = np.dtype(found[1]), (int(found[2]), int(found[3]))
        else:  # another writer's spelling of the header
            f.seek(0)
            if np.lib.format.read_magic(f) == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            if fortran or len(shape) != 2:
                return None
        if dtype not in _READ_DTYPES:
            return None
        if shape[0] * shape[1] == 0:
            return np.zeros(shape, dtype=dtype)
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(mapped, dtype=dtype, count=shape[0] * shape[1], offset=offset).reshape(
        shape
    )


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]


def _pending_id(doc_id: str, generation: str) -> str:
    return f"{doc_id}@{generation}"


def _parse_part_id(part_id: str) -> tuple[str, str | None]:
    """(doc id, generation) of a chunk id `doc#n:hash@gen` or sentence id `doc@gen/k`.

    Records from before generations (`doc#n:hash`, `doc`) have generation None, as their
    registry records do.
    """
    head, at, tail = part_id.rpartition("@")
    if not at:
        return part_id.split("#")[0], None
    return head.split("#")[0], tail.split("/")[0]


def _kept(part_id: str, visible: dict[str, str | None], live: dict[str, set[str | None]]) -> bool:
    doc_id, generation = _parse_part_id(part_id)
    committed = doc_id in visible and visible[doc_id] == generation
    return committed or generation in live.get(doc_id, set())


def _alive(pending: dict[str, Any]) -> bool:
    """Whether the writer of a pending record may still be at work."""
    if time.time() - float(pending.get("started") or 0) > _PENDING_EXPIRES_S:
        return False
    if pending.get("host") != socket.gethostname():
        return True  # another machine's process: only its age tells
    try:
        os.kill(int(pending["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _node(document: Document, chunk: Chunk, embedding: list[float], generation: str) -> TextNode:
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
        "chunk_id": chunk.chunk_id,
        "generation": generation,
        "title": document.title,
        "source": document.source,
        "start": chunk.start,
        "end": chunk.end,
        "page": chunk.page,
        "page_label": chunk.page_label or "",
        "section": chunk.section or "",
        "kind": chunk.kind,
        "ocr": chunk.ocr,
        "ocr_confidence": chunk.ocr_confidence if chunk.ocr_confidence is not None else -1.0,
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
    signature: Signature | None = None
    duplicate_of: str | None = None
    replaces: str | None = None  # source key whose document this file takes over (--replace)


def _sentence_packs(
    w: DocumentWrite, generation: str
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """Each record's metadata (offsets) and its block of vectors, stored by the caller."""
    vectors = np.ascontiguousarray(w.sentence_vectors, dtype=_VECTOR_DTYPE)
    for start in range(0, len(w.sentences), _SENTENCES_PER_RECORD):
        end = start + _SENTENCES_PER_RECORD
        pack = {
            "doc_id": w.document.doc_id,
            "generation": generation,
            "spans_json": json.dumps([[s.start, s.end] for s in w.sentences[start:end]]),
        }
        yield pack, vectors[start:end]


def _registry_entry(w: DocumentWrite, generation: str, key: str) -> dict[str, Any]:
    d = w.document
    return {
        "generation": generation,
        "source_key": key,
        "title": d.title,
        "source": d.source,
        "content_hash": d.content_hash,
        "reader": reader_version(d.source),
        "pages": len(d.pages),
        "chunks": len(w.chunks),
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pages_json": json.dumps([p.model_dump() for p in d.pages]),
        "sections_json": json.dumps([s.model_dump() for s in d.sections]),
        "elements_json": json.dumps([e.model_dump() for e in d.elements]),
        "minhash": w.signature.encode() if w.signature else "",
        "shingles": w.signature.shingles if w.signature else 0,
        "duplicate_of": w.duplicate_of or "",
        "meta_json": d.metadata.model_dump_json() if d.metadata else "",
        "collections_json": json.dumps(d.collections),
        _WRITTEN: time.time_ns(),
    }


def _metadata(m: dict[str, Any]) -> DocumentMetadata | None:
    raw = m.get("meta_json")
    return DocumentMetadata.model_validate_json(str(raw)) if raw else None
