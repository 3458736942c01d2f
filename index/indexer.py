"""The write path: files -> documents -> chunks and sentences -> embeddings -> store.

Each sentence is embedded once; a chunk's vector is the normalised mean of its sentences'
vectors, so overlapping chunks cost no extra model passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from tqdm.auto import tqdm

from index.chunking import chunk_document
from index.cleaning import clean
from index.duplicates import Signature, SignatureIndex, signature
from index.embedding import load_embedder
from index.errors import LoadError, PaperTrailError
from index.library import WorkIndex, match_unfiled, unfiled_records
from index.loaders import RawDocument, expand_paths, load_file
from index.models import (
    Chunk,
    Document,
    DocumentInfo,
    DocumentMetadata,
    FileResult,
    FileWarning,
    IngestReport,
)
from index.pdf import OcrEngine
from index.sentences import Sentence, split_sentences
from index.settings import Settings
from index.store import DocumentWrite, Identities, Store, open_store, source_key

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

__all__ = ["BatchCallback", "Indexer", "LibraryRecord", "OcrProgressCallback", "ProgressCallback"]

# Called with (passages embedded so far, passages to embed) while a batch is embedded.
ProgressCallback = Callable[[int, int], None]
# (file, pages OCR'd so far, pages to OCR), as each scanned page of a file is read.
OcrProgressCallback = Callable[[Path, int, int], None]
# (files done, files), after each batch of files is stored.
BatchCallback = Callable[[int, int], None]
# Files read, embedded and stored together. 9,800 papers at once held every sentence and
# its vector (2.3 GB of vectors) until the one write at the end.
_BATCH_FILES = 256


@dataclass
class _Pending:
    result: FileResult
    document: Document
    chunks: list[Chunk]
    sentences: list[Sentence]
    signature: Signature | None = None


@dataclass
class _Seen:
    """What an ingest compares each new document with: every indexed document and the
    ingest's earlier files, as indexes (a pass over 9,800 documents per file was O(n^2))."""

    texts: SignatureIndex
    duplicate_of: dict[str, str | None]  # of each document with a signature
    titles: dict[str, str]
    works: WorkIndex

    @classmethod
    def of(
        cls, signatures: Iterable[tuple[str, Signature, str | None]], infos: Iterable[DocumentInfo]
    ) -> _Seen:
        seen = cls(SignatureIndex(), {}, {}, WorkIndex())
        for doc_id, sig, dup in signatures:
            seen.texts.add(doc_id, sig)
            seen.duplicate_of[doc_id] = dup
        for d in infos:
            seen.titles[d.doc_id] = d.title
            seen.works.add(d.doc_id, d.metadata, d.duplicate_of)
        return seen

    def add(self, doc: Document, sig: Signature, duplicate_of: str | None) -> None:
        self.texts.add(doc.doc_id, sig)
        self.duplicate_of[doc.doc_id] = duplicate_of
        self.titles[doc.doc_id] = doc.title
        self.works.add(doc.doc_id, doc.metadata, duplicate_of)


class Indexer:
    """Ingest files into the store; unchanged files cost no embedding work."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        embedder: BaseEmbedding | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self._embedder = embedder

    @property
    def embedder(self) -> BaseEmbedding:
        if self._embedder is None:  # loaded only when something needs embedding
            self._embedder = load_embedder(self.settings)
        return self._embedder

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
        replace: str | None = None,
        ocr_mode: Literal["auto", "always", "never"] | None = None,
        on_ocr_page: OcrProgressCallback | None = None,
        records: Mapping[str, LibraryRecord] | None = None,
        on_batch: BatchCallback | None = None,
    ) -> IngestReport:
        """Load, clean, chunk and embed each file; a bad file is reported, not fatal.

        Files go through in batches of _BATCH_FILES, each stored before the next is read:
        memory stays that of one batch, and an ingest stopped midway keeps the batches
        stored; `on_batch` hears (files done, files) after each.

        `replace` names a document that the one file given takes the place of, under the
        same id (a file is otherwise its own document: index.store.Identities). `ocr_mode`
        overrides the settings' for these files; `on_ocr_page` hears each scanned page.
        `records` (by source_key of a file) are a reference manager's: their fields win
        over the file's own, a user's corrections over both."""
        report = IngestReport()
        identities = self.store.identities()
        files = list(_unique(expand_paths(paths)))
        if replace is not None and len(files) != 1:
            raise PaperTrailError(
                f"--replace {replace} takes exactly one file; {len(files)} were given"
            )
        known = {d.doc_id: d for d in self.store.documents()}
        seen = _Seen.of(self.store.signatures(), known.values())
        unfiled: list[DocumentMetadata] | None = None  # read when a loose file needs them
        ocr = self.ocr_engine(ocr_mode)
        total = len(files)
        done = 0
        for batch in _batches(files, _BATCH_FILES):
            pending: list[_Pending] = []
            for path in batch:
                result, job = self._prepare(
                    path,
                    identities,
                    replace,
                    show_progress=show_progress,
                    ocr=ocr,
                    on_ocr_page=on_ocr_page,
                )
                record = (records or {}).get(source_key(path))
                if job and record is None and job.document.metadata is not None:
                    # A loose file that a library lists without its file takes that entry.
                    if unfiled is None:
                        unfiled = unfiled_records(self.settings.index_dir)
                    entry = match_unfiled(unfiled, job.document.metadata)
                    record = LibraryRecord(entry) if entry else None
                if job:
                    _bibliography(job.document, known.get(job.document.doc_id), record)
                elif result.status == "unchanged" and record and result.doc_id in known:
                    self._update_record(known[result.doc_id], record)
                report.files.append(result)
                if job:
                    pending.append(job)
            if pending:
                self._find_duplicates(pending, seen)
                self._write(
                    pending,
                    identities,
                    report,
                    show_progress,
                    _across_batches(on_progress, report, done + len(batch), total),
                )
            done += len(batch)
            if on_batch is not None and pending:
                on_batch(done, total)
        return report

    def _write(
        self,
        pending: list[_Pending],
        identities: Identities,
        report: IngestReport,
        show_progress: bool,
        on_progress: ProgressCallback | None,
    ) -> None:
        """Embed one batch's sentences and store its documents."""
        texts = [s.text for job in pending for s in job.sentences]
        passages = sum(len(job.chunks) for job in pending)
        vectors = self._embed(texts, passages, show_progress=show_progress, on_progress=on_progress)
        offset = 0
        writes: list[tuple[_Pending, DocumentWrite]] = []
        for job in pending:
            n = len(job.sentences)
            own = vectors[offset : offset + n]
            offset += n
            try:
                chunk_vectors = _chunk_vectors(job.chunks, job.sentences, own)
            except Exception as exc:  # keep the rest of the batch going
                job.result.status, job.result.error = "failed", f"{job.result.path}: {exc}"
                continue
            write = DocumentWrite(
                job.document,
                job.chunks,
                chunk_vectors,
                job.sentences,
                own,
                signature=job.signature,
                duplicate_of=job.result.duplicate_of,
                replaces=identities.rebound.get(source_key(job.document.source)),
            )
            writes.append((job, write))
        failures = self.store.replace_many([w for _, w in writes])
        for job, _ in writes:
            if exc := failures.get(job.document.doc_id):
                job.result.status, job.result.error = "failed", f"{job.result.path}: {exc}"
            else:
                report.stored_chunks += len(job.chunks)
        report.embedded_chunks += sum(len(job.chunks) for job in pending)
        report.embedded_sentences += len(texts)

    def remove(self, doc_id: str) -> bool:
        return self.store.remove(doc_id)

    def _update_record(self, info: DocumentInfo, record: LibraryRecord) -> None:
        """An unchanged file whose reference-manager record changed: its fields, not its
        text, are written again."""
        merged = _merge(info.metadata, record.metadata, info.metadata)
        if merged != info.metadata or record.collections != info.collections:
            self.store.set_metadata(info.doc_id, merged, record.collections)

    def _find_duplicates(self, pending: list[_Pending], seen: _Seen) -> None:
        """Name the indexed document (or earlier file of the ingest) each file repeats.

        The duplicate is kept, since the user may want both; retrieval shows one copy of
        each passage (rag.engine)."""
        for job in pending:
            doc = job.document
            job.signature = signature(doc.text)
            match = seen.texts.best_match(job.signature, skip=doc.doc_id)
            root = None
            if match:  # point at the first copy, not at a copy of it
                first = seen.duplicate_of.get(match[0])
                root = first if first in seen.duplicate_of else match[0]
            elif work := seen.works.first_same(doc.doc_id, doc.metadata):
                root = work  # the same paper from another source (a library's, a loose file)
                job.result.duplicate_of = root
                job.result.warnings.append(
                    FileWarning(
                        message=f"the same work as “{seen.titles.get(root, root)}” ({root}) by "
                        f"its {_matched_by(doc)}; kept, and answers cite one copy"
                    )
                )
            if match and root and root != doc.doc_id:  # a re-ingested first copy stays first
                job.result.duplicate_of = root
                job.result.warnings.append(
                    FileWarning(
                        message=f"same text as “{seen.titles.get(root, root)}” ({root}): "
                        f"{match[1]:.0%} of its word 5-grams shared; kept, and answers cite "
                        "one copy"
                    )
                )
            seen.add(doc, job.signature, job.result.duplicate_of)

    def _prepare(
        self,
        path: Path,
        identities: Identities,
        replace: str | None = None,
        *,
        show_progress: bool = False,
        ocr: OcrEngine | None = None,
        on_ocr_page: OcrProgressCallback | None = None,
    ) -> tuple[FileResult, _Pending | None]:
        try:
            self._check_size(path)
            with _ocr_progress(path, show_progress, on_ocr_page) as on_page:
                raw = load_file(path, ocr=ocr or self.ocr_engine(), on_page=on_page)
            self._check_length(path, raw)
            raw.doc_id, known_hash = (
                identities.rebind(path, replace)
                if replace
                else identities.resolve(path, raw.doc_id)
            )
            same = known_hash == raw.content_hash
            if same and not identities.read_by_older_reader(path):
                return FileResult(path=str(path), status="unchanged", doc_id=raw.doc_id), None
            document = clean(raw)
            document.metadata = raw.metadata
            chunks = chunk_document(document, self.settings.chunking)
            sentences = split_sentences(document.text)
            if not chunks or not sentences:
                raise PaperTrailError(f"{path}: no text left after cleaning")
        except PaperTrailError as exc:
            return FileResult(path=str(path), status="failed", error=str(exc)), None
        except Exception as exc:  # an unexpected failure still names the file
            return FileResult(
                path=str(path), status="failed", error=f"{path}: {type(exc).__name__}: {exc}"
            ), None
        result = FileResult(
            path=str(path),
            status="reread" if same else "replaced" if known_hash else "indexed",
            doc_id=document.doc_id,
            chunks=len(chunks),
            warnings=document.warnings,
        )
        return result, _Pending(result, document, chunks, sentences)

    def ocr_engine(self, mode: Literal["auto", "always", "never"] | None = None) -> OcrEngine:
        """How scanned PDF pages are OCR'd, from the settings (`mode` overrides theirs)."""
        ocr = self.settings.ocr
        return OcrEngine(
            mode=mode or ocr.mode,
            lang=ocr.lang,
            dpi=ocr.dpi,
            workers=ocr.workers,
            cache_dir=ocr.cache_dir,
        )

    def _check_size(self, path: Path) -> None:
        limit = self.settings.max_file_mb
        size = path.stat().st_size if path.is_file() else 0
        if size > limit * 1_000_000:
            raise LoadError(
                str(path),
                f"file is {size / 1e6:.3g} MB; the limit is {limit:g} MB "
                "(PAPERTRAIL_MAX_FILE_MB); nothing was read",
            )

    def _check_length(self, path: Path, raw: RawDocument) -> None:
        limit = self.settings.max_document_chars
        chars = sum(len(p) for p in raw.pages)
        if chars > limit:
            raise LoadError(
                str(path),
                f"text is {chars:,} characters long; the limit is {limit:,} "
                "(PAPERTRAIL_MAX_DOCUMENT_CHARS); nothing was indexed",
            )

    def _embed(
        self,
        texts: list[str],
        passages: int,
        *,
        show_progress: bool,
        on_progress: ProgressCallback | None,
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # A sentence said word for word twice (a licence line, a repeated caption, an
        # unchanged sentence of a revised file ingested with it) is embedded once: 2.3 % of
        # COVID-QA test's sentences. The same text gives the same vector, run alone.
        unique = list(dict.fromkeys(texts))
        # Shortest first, across every file: each model batch then holds texts of about the
        # same length, so almost nothing is padding (sentences run from 2 to 256 tokens).
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        batch = self.settings.embed_batch_size * 8
        parts: list[list[float]] = []
        # Sentences are what the model embeds, but passages are what a user knows of (a
        # chunk's vector is its sentences' mean): progress is told in passages.
        with tqdm(
            total=passages, desc="Embedding", unit="passage", disable=not show_progress
        ) as bar:
            for i in range(0, len(order), batch):
                rows = order[i : i + batch]
                parts += self.embedder.get_text_embedding_batch([unique[r] for r in rows])
                done = passages * len(parts) // len(unique)
                bar.update(done - bar.n)
                if on_progress:
                    on_progress(done, passages)
        vectors = np.empty((len(unique), len(parts[0])), dtype=np.float32)
        vectors[order] = np.asarray(parts, dtype=np.float32)
        if len(unique) == len(texts):
            return vectors
        at = {text: i for i, text in enumerate(unique)}
        return vectors[[at[text] for text in texts]]


@contextmanager
def _ocr_progress(
    path: Path, show: bool, listener: OcrProgressCallback | None
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar for a file's OCR'd pages, opened when its first page is done, and
    the listener told of each page."""
    if not show and listener is None:
        yield None
        return
    bars: list[tqdm] = []

    def on_page(done: int, total: int) -> None:
        if listener is not None:
            listener(path, done, total)
        if not show:
            return
        if not bars:
            bars.append(tqdm(total=total, desc=f"OCR {path.name}", unit="page"))
        bars[0].update(done - bars[0].n)

    try:
        yield on_page
    finally:
        for bar in bars:
            bar.close()


def _across_batches(
    listener: ProgressCallback | None, report: IngestReport, files_done: int, files: int
) -> ProgressCallback | None:
    """A batch's (passages embedded, its passages) told as the whole ingest's: after the
    passages of earlier batches, of a total estimated from the passages per file so far."""
    if listener is None:
        return None
    before = report.embedded_chunks

    def told(done: int, passages: int) -> None:
        per_file = (before + passages) / max(files_done, 1)
        total = before + passages + round(per_file * (files - files_done))
        listener(before + done, total)

    return told


def _batches(items: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _unique(paths: Iterable[Path]) -> Iterator[Path]:
    """Each file once, even when named twice or also reached through its folder."""
    seen: set[str] = set()
    for path in paths:
        key = source_key(path)
        if key not in seen:
            seen.add(key)
            yield path


def _chunk_vectors(
    chunks: list[Chunk], sentences: list[Sentence], vectors: np.ndarray
) -> list[list[float]]:
    """Each chunk's vector: the normalised mean of the sentences it touches."""
    starts = np.array([s.start for s in sentences])
    ends = np.array([s.end for s in sentences])
    out = []
    for c in chunks:
        rows = (starts < c.end) & (ends > c.start)
        mean = vectors[rows].mean(axis=0) if rows.any() else vectors.mean(axis=0)
        out.append((mean / (np.linalg.norm(mean) or 1.0)).tolist())
    return out


@dataclass(frozen=True)
class LibraryRecord:
    """A reference manager's record for one file, and the collections it is filed in."""

    metadata: DocumentMetadata
    collections: list[str] = field(default_factory=list)


_RECORD_SOURCES = frozenset({"zotero", "bibtex", "ris"})


def _kept(previous: DocumentMetadata | None, sources: frozenset[str]) -> DocumentMetadata:
    """The fields of `previous` that came from `sources` (a user's, a record's)."""
    if previous is None:
        return DocumentMetadata()
    names = [n for n, src in previous.sources.items() if src in sources]
    return DocumentMetadata.model_validate(
        {n: getattr(previous, n) for n in names}
        | {"sources": {n: previous.sources[n] for n in names}}
    )


def _merge(
    previous: DocumentMetadata | None,
    record: DocumentMetadata | None,
    own: DocumentMetadata | None,
) -> DocumentMetadata:
    """A user's corrections > the record (else the record kept from before) > the file's."""
    merged = _kept(previous, frozenset({"user"}))
    merged = merged.filled_from(record if record is not None else _kept(previous, _RECORD_SOURCES))
    return merged.filled_from(own or DocumentMetadata())


def _bibliography(
    document: Document, previous: DocumentInfo | None, record: LibraryRecord | None
) -> None:
    """The document's bibliographic fields and collections, and its title from them when a
    person (a user, a reference manager) gave it."""
    own = document.metadata or DocumentMetadata()
    if not own.has("title") and document.title:
        own = own.filled_from(DocumentMetadata(title=document.title))
    before = previous.metadata if previous else None
    document.metadata = _merge(before, record.metadata if record else None, own)
    document.collections = (
        record.collections if record else (previous.collections if previous else [])
    )
    if document.metadata.title and document.metadata.sources.get("title") in (
        _RECORD_SOURCES | {"user"}
    ):
        document.title = document.metadata.title


def _matched_by(doc: Document) -> str:
    return "DOI" if doc.metadata and doc.metadata.doi else "title, first author and year"
