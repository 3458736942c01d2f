"""The write path: files -> documents -> chunks -> embeddings -> store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from index.chunking import chunk_document
from index.cleaning import clean
from index.embedding import load_embedder
from index.errors import PaperTrailError
from index.loaders import expand_paths, load_file
from index.models import Chunk, Document, FileResult, IngestReport
from index.settings import Settings
from index.store import Store, open_store

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

__all__ = ["Indexer", "ProgressCallback"]

# Called with (chunks embedded so far, chunks to embed) while a batch is embedded.
ProgressCallback = Callable[[int, int], None]


@dataclass
class _Pending:
    result: FileResult
    document: Document
    chunks: list[Chunk]


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
    ) -> IngestReport:
        """Load, clean, chunk and embed each file; a bad file is reported, not fatal."""
        report = IngestReport()
        pending: list[_Pending] = []
        for path in expand_paths(paths):
            result, job = self._prepare(path)
            report.files.append(result)
            if job:
                pending.append(job)
        texts = [c.text for job in pending for c in job.chunks]
        vectors = self._embed(texts, show_progress=show_progress, on_progress=on_progress)
        offset = 0
        for job in pending:
            n = len(job.chunks)
            try:
                self.store.replace(job.document, job.chunks, vectors[offset : offset + n])
            except Exception as exc:  # keep the rest of the batch going
                job.result.status, job.result.error = "failed", f"{job.result.path}: {exc}"
            offset += n
        report.embedded_chunks = len(texts)
        return report

    def remove(self, doc_id: str) -> bool:
        return self.store.remove(doc_id)

    def _prepare(self, path: Path) -> tuple[FileResult, _Pending | None]:
        try:
            raw = load_file(path)
            known_hash = self.store.content_hash(raw.doc_id)
            if known_hash == raw.content_hash:
                return FileResult(path=str(path), status="unchanged", doc_id=raw.doc_id), None
            document = clean(raw)
            chunks = chunk_document(document, self.settings.chunking)
            if not chunks:
                raise PaperTrailError(f"{path}: no text left after cleaning")
        except PaperTrailError as exc:
            return FileResult(path=str(path), status="failed", error=str(exc)), None
        except Exception as exc:  # an unexpected failure still names the file
            return FileResult(
                path=str(path), status="failed", error=f"{path}: {type(exc).__name__}: {exc}"
            ), None
        result = FileResult(
            path=str(path),
            status="replaced" if known_hash else "indexed",
            doc_id=document.doc_id,
            chunks=len(chunks),
            warnings=document.warnings,
        )
        return result, _Pending(result, document, chunks)

    def _embed(
        self,
        texts: list[str],
        *,
        show_progress: bool,
        on_progress: ProgressCallback | None,
    ) -> list[list[float]]:
        if not texts:
            return []
        batch = self.settings.embed_batch_size * 4
        vectors: list[list[float]] = []
        with tqdm(
            total=len(texts), desc="Embedding", unit="chunk", disable=not show_progress
        ) as bar:
            for i in range(0, len(texts), batch):
                vectors += self.embedder.get_text_embedding_batch(texts[i : i + batch])
                bar.update(min(batch, len(texts) - i))
                if on_progress:
                    on_progress(len(vectors), len(texts))
        return vectors
