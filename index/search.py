"""What retrieval searches, derived from the Chroma collections and cached on disk.

- Keyword: bm25s over each chunk's title and text (terms plus bigrams, and both forms of
  each abbreviation: index/abbreviations.py). Chroma's own sparse index is refused in
  local and single-server mode (chromadb 1.5.9).
- Semantic: every sentence's vector in one matrix; a chunk scores its best sentence
  (max-sim), which beats embedding the whole chunk: MiniLM reads only 256 word pieces
  and one vector blurs a chunk's several points (docs/retrieval.md).
The cache is rebuilt whenever the collection's revision differs from the one it was
built at, so it can never disagree with Chroma for long; a broken cache is rebuilt.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.abbreviations import Abbreviations, initialisms
from index.keyword import index_terms, terms, with_bigrams
from index.sentences import Sentence
from index.settings import Settings
from index.store import Store

__all__ = ["ChunkRecord", "SearchIndex"]

# Bumped when what the cache holds is derived differently; an older cache is rebuilt.
_CACHE_FORMAT = 2  # 2: abbreviations expanded in the keyword index


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    text: str
    metadata: dict[str, Any]


@dataclass
class _Built:
    revision: str
    chunks: list[ChunkRecord]
    bm25: Any
    sentences: list[dict[str, Any]]  # doc_id, start, end
    vectors: np.ndarray  # one row per sentence
    members: list[np.ndarray]  # sentence rows inside each chunk
    by_doc: dict[str, np.ndarray]  # sentence rows of each document, by start


class SearchIndex:
    """Keyword and sentence-vector search over every chunk in the store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._dir = settings.index_dir / "cache" / settings.collection
        self._built: _Built | None = None
        self._lock = threading.Lock()

    def chunk(self, row: int) -> ChunkRecord:
        return self._current().chunks[row]

    def keyword(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-k (chunk row, BM25 score), best first; only positive scores."""
        built = self._current()
        if not built.chunks:
            return []
        asked = index_terms(query)
        asked += [t for t in dict.fromkeys(initialisms(query)) if t not in asked]
        query_terms = [t for t in asked if t in built.bm25.vocab_dict]
        if not query_terms:
            return []
        scores = built.bm25.get_scores(query_terms)
        return _top(scores, k, positive=True)

    def semantic(self, query_vector: Sequence[float], k: int) -> list[tuple[int, float]]:
        """Top-k (chunk row, cosine of the chunk's best sentence), best first."""
        built = self._current()
        if not built.chunks or not len(built.vectors):
            return []
        sims = built.vectors @ np.asarray(query_vector, dtype=np.float32)
        best = np.array([sims[m].max() if len(m) else -1.0 for m in built.members])
        return _top(best, k, positive=False)

    def sentences(self, doc_id: str, start: int, end: int) -> list[tuple[Sentence, np.ndarray]]:
        """Sentences lying wholly in [start, end) of a document, with their vectors."""
        built = self._current()
        out = []
        for row in built.by_doc.get(doc_id, np.zeros(0, dtype=int)):
            meta = built.sentences[row]
            if meta["start"] >= start and meta["end"] <= end:
                out.append((Sentence(meta["start"], meta["end"], meta["text"]), built.vectors[row]))
        return out

    def idf(self, words: list[str]) -> dict[str, float]:
        """BM25 idf of each term; a term the corpus lacks gets the highest idf."""
        built = self._current()
        n = len(built.chunks)
        vocab = built.bm25.vocab_dict if n else {}
        indptr = built.bm25.scores["indptr"] if n else None
        out = {}
        for word in set(words):
            tid = vocab.get(word)
            df = 0 if tid is None or indptr is None else int(indptr[tid + 1] - indptr[tid])
            out[word] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out

    def unseen(self, words: list[str]) -> set[str]:
        """The terms no chunk contains."""
        built = self._current()
        vocab = built.bm25.vocab_dict if built.chunks else {}
        return {w for w in words if w not in vocab}

    # -- the cache --------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild if the store changed since; one Chroma round trip, so once per question."""
        revision = self._store.revision()
        with self._lock:
            if self._built is None or self._built.revision != revision:
                self._built = self._load(revision) or self._build(revision)

    def _current(self) -> _Built:
        if self._built is None:
            self.refresh()
        assert self._built is not None
        return self._built

    def _build(self, revision: str) -> _Built:
        import bm25s

        # One registry read for both: chunks and sentences of the same committed versions.
        (ids, texts, metas), (sentences, vectors) = self._store.snapshot()
        bm25 = bm25s.BM25()
        if ids:
            abbreviations = Abbreviations.from_texts(
                (str(m.get("doc_id")), t) for t, m in zip(texts, metas, strict=True)
            )
            corpus = []
            for t, m in zip(texts, metas, strict=True):
                unigrams = terms(f"{m.get('title', '')}\n{t}")
                corpus.append(
                    with_bigrams(unigrams) + abbreviations.expand(str(m.get("doc_id")), unigrams)
                )
            bm25.index(corpus, show_progress=False)
        chunks = [ChunkRecord(i, t, m) for i, t, m in zip(ids, texts, metas, strict=True)]
        built = _assemble(revision, chunks, bm25, sentences, vectors)
        if ids:
            self._save(built)
        return built

    def _save(self, built: _Built) -> None:
        tmp = self._dir.with_name(self._dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "bm25").mkdir(parents=True)
        built.bm25.save(str(tmp / "bm25"), show_progress=False)
        np.save(tmp / "vectors.npy", built.vectors)
        meta = {
            "format": _CACHE_FORMAT,
            "revision": built.revision,
            "chunks": [[c.chunk_id, c.text, c.metadata] for c in built.chunks],
            "sentences": built.sentences,
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        shutil.rmtree(self._dir, ignore_errors=True)
        tmp.rename(self._dir)

    def _load(self, revision: str) -> _Built | None:
        meta_path = self._dir / "meta.json"
        if not meta_path.is_file():
            return None
        try:
            import bm25s

            meta = json.loads(meta_path.read_text())
            if meta.get("revision") != revision or meta.get("format") != _CACHE_FORMAT:
                return None
            bm25 = bm25s.BM25.load(str(self._dir / "bm25"), show_progress=False)
            vectors = np.load(self._dir / "vectors.npy")
            chunks = [ChunkRecord(i, t, m) for i, t, m in meta["chunks"]]
            return _assemble(revision, chunks, bm25, meta["sentences"], vectors)
        except Exception:  # a broken cache is rebuilt, never trusted
            return None


def _assemble(
    revision: str,
    chunks: list[ChunkRecord],
    bm25: Any,
    sentences: list[dict[str, Any]],
    vectors: np.ndarray,
) -> _Built:
    """Index sentences by document and find the sentences inside each chunk."""
    by_doc: dict[str, list[int]] = {}
    for row, s in enumerate(sentences):
        by_doc.setdefault(s["doc_id"], []).append(row)
    ordered = {
        d: np.array(sorted(rows, key=lambda r: sentences[r]["start"]), dtype=int)
        for d, rows in by_doc.items()
    }
    starts = {d: np.array([sentences[r]["start"] for r in rows]) for d, rows in ordered.items()}
    ends = {d: np.array([sentences[r]["end"] for r in rows]) for d, rows in ordered.items()}
    members = []
    for c in chunks:
        doc = str(c.metadata.get("doc_id"))
        lo, hi = int(c.metadata.get("start", 0)), int(c.metadata.get("end", 0))
        rows, s, e = ordered.get(doc), starts.get(doc), ends.get(doc)
        if rows is None or s is None or e is None:
            members.append(np.zeros(0, dtype=int))
            continue
        inside = rows[(s >= lo) & (e <= hi)]
        # A chunk cut inside one long sentence still scores by the sentences it touches.
        members.append(inside if len(inside) else rows[(s < hi) & (e > lo)])
    return _Built(revision, chunks, bm25, sentences, vectors, members, ordered)


def _top(scores: np.ndarray, k: int, *, positive: bool) -> list[tuple[int, float]]:
    k = min(k, len(scores))
    rows = np.argpartition(-scores, k - 1)[:k] if k else np.zeros(0, dtype=int)
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return [(int(r), float(scores[r])) for r in rows if not positive or scores[r] > 0]
