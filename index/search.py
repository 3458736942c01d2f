"""What retrieval searches, derived from the Chroma collections and cached on disk.

- Keyword: BM25 (Lucene variant, k1 1.5, b 0.75, as bm25s scores it) over each chunk's
  title and text (terms plus bigrams, and both forms of each abbreviation:
  index/abbreviations.py). Chroma's own sparse index is refused in local and single-server
  mode (chromadb 1.5.9).
- Semantic: a chunk scores its best sentence (max-sim), which beats embedding the whole
  chunk: MiniLM reads only 256 word pieces and one vector blurs a chunk's several points
  (docs/retrieval.md).

The cache is a set of segments, each built once for a batch of documents and never
changed: chunks, per-term postings (chunk, tf), sentence spans and float16 vectors. A
segment's content is valid per document version (doc id @ generation): a document
replaced or removed is masked where it lies, a new one gets a new segment, and small
segments are merged. So adding a document costs work in proportion to it, and opening an
index loads what is on disk without re-deriving it. BM25's corpus statistics (chunk
count, mean length, document frequencies) are summed over the live chunks at query time,
so scores equal a single index's. A broken segment is dropped and its documents rebuilt.
bm25s itself cannot do this: its index stores scores with the corpus's idf baked in.
"""

from __future__ import annotations

import bisect
import functools
import gc
import itertools
import json
import logging
import math
import shutil
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from index.abbreviations import Abbreviations, definitions, initialisms
from index.keyword import index_terms, terms, with_bigrams
from index.sentences import Sentence
from index.settings import Settings
from index.store import Store

__all__ = ["ChunkRecord", "SearchIndex"]

_log = logging.getLogger(__name__)
# The products here are memory-bound: a second BLAS thread adds nothing, and on a busy
# machine OpenBLAS's threads wait for each other (0.7 ms single, 28 ms with two, measured).
_BLAS = ThreadpoolController()

# Bumped when what a segment holds is derived differently; older segments are rebuilt.
# 3: segments per batch of documents; 4: compact, vectors in the store; 5: opens without a
# Python object per term (sorted vocabulary in one array), chunks' document fields once.
# 6: sentence rows' documents as runs (doc, count), not one string per sentence.
# 7: int8 projections; 8: documents' texts in one memory-mapped file. A format-8 segment
# without its sentences' term counts (written before them) is rewritten with them.
_CACHE_FORMAT = 8
_MIGRATES = (3, 4, 5, 6, 7)  # a segment of these formats is rewritten, not derived again
# Chunk metadata fields that a document's chunks share: written once per document.
_DOC_FIELDS = ("doc_id", "generation", "title", "source", "content_hash")
# A segment with this many sentences also keeps them projected on its first principal
# axes, which pick the chunks whose sentences are scored exactly (settings: shortlist).
_REDUCE_FROM = 4096
_REDUCED_DIMS = 128
_BASIS_SAMPLE = 4096  # sentences the axes are computed from
# A segment with this many sentences also groups its projections in inverted lists around
# k-means centroids (about sqrt(n) / 2 lists); a question scores only the sentences of the
# lists nearest it, _PROBE_SHARE of them, instead of every projection (770 MB at 9,800
# papers). Tuned on the k = 25 scale library (docs/scaling.md).
_IVF_FROM = 131_072
_PROBE_SHARE = 0.16
_KMEANS_ROUNDS = 8
_KMEANS_SAMPLE = 48  # sentences per list that the centroids are trained on
_K1, _B = 1.5, 0.75  # bm25s's defaults, which the keyword side was tuned with
_MAX_SEGMENTS = 8  # more than this and the two smallest are merged, if alike (_merge_small)
_ALIKE = 8  # sizes within this factor are alike
_STEP = 25  # documents a question may wait for when another process added many
_DEAD_SHARE = 0.3  # a segment with more replaced chunks than this is compacted by a merge
# LlamaIndex's record bookkeeping (a JSON copy of the node): a third of the cache's size.
_NODE_KEYS = frozenset({"_node_content", "_node_type", "document_id", "ref_doc_id"})


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    text: str
    metadata: dict[str, Any]


class _Chunks(Sequence[ChunkRecord]):
    """A read segment's chunks as written ([id, text or None, doc, own fields], with each
    document's shared fields and text), made into records only when asked for: opening
    2,450 papers built 73,000 records and metadata dicts (0.5 s) for the few that a
    question shows."""

    def __init__(
        self, raw: list[list[Any]], shared: dict[str, dict[str, Any]], texts: Mapping[str, str]
    ) -> None:
        self._raw, self._shared, self._texts = raw, shared, texts

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        chunk_id, text, doc, own = self._raw[i]
        meta = {**self._shared.get(doc, {}), **own}
        return ChunkRecord(chunk_id, _sliced(self._texts, meta) if text is None else text, meta)


class _Texts(Mapping[str, str]):
    """Documents' cleaned texts, UTF-8 end to end in one memory-mapped file (format 8), a
    text decoded when asked for: in data.json they were 1.3 s of the first answer's 5.2 s
    at 9,800 papers, and 230 MB held in memory."""

    def __init__(self, path: Path, docs: list[str], ends: np.ndarray) -> None:
        self._blob = np.load(path, mmap_mode="r") if ends.size and ends[-1] else np.zeros(0)
        self._at = {d: i for i, d in enumerate(docs)}
        self._ends = ends
        self._recent: OrderedDict[str, str] = OrderedDict()  # a question's chunks share a few
        self._lock = threading.Lock()

    def __getitem__(self, doc: str) -> str:
        with self._lock:
            if doc in self._recent:
                self._recent.move_to_end(doc)
                return self._recent[doc]
        i = self._at[doc]
        a, b = int(self._ends[i - 1]) if i else 0, int(self._ends[i])
        text = bytes(self._blob[a:b]).decode("utf-8")
        with self._lock:
            self._recent[doc] = text
            if len(self._recent) > 64:
                self._recent.popitem(last=False)
        return text

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


def _save_texts(folder: Path, texts: Mapping[str, str]) -> list[str]:
    """texts.npy and arrays/text_ends.npy, as _Texts reads them; the documents in order."""
    encoded = [t.encode("utf-8") for t in texts.values()]
    np.save(folder / "texts.npy", np.frombuffer(b"".join(encoded), dtype=np.uint8))
    ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
    np.save(folder / "arrays" / "text_ends.npy", ends)
    return list(texts)


class _Vocab:
    """A segment's terms in sorted order (a term's id is its rank), held as one UTF-8 blob
    and its offsets: opening a segment makes no Python object per term (386k at k = 10),
    and a lookup is a binary search over a few dozen query terms."""

    def __init__(self, blob: bytes, ends: np.ndarray) -> None:
        self._blob = blob
        self._ends = ends  # term i is blob[ends[i]:ends[i + 1]]

    @classmethod
    def of(cls, terms: list[str]) -> _Vocab:
        """From terms already in sorted order."""
        encoded = [t.encode("utf-8", "surrogatepass") for t in terms]
        ends = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=ends[1:])
        return cls(b"".join(encoded), ends)

    def _term(self, i: int) -> bytes:
        return self._blob[self._ends[i] : self._ends[i + 1]]

    def get(self, term: str) -> int | None:
        key = term.encode("utf-8", "surrogatepass")
        # Code-point order (how the terms were sorted) is UTF-8 byte order.
        i = bisect.bisect_left(range(len(self)), key, key=self._term)
        return i if i < len(self) and self._term(i) == key else None

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self._term(i).decode("utf-8", "surrogatepass")

    def arrays(self) -> dict[str, np.ndarray]:
        return {"vocab_blob": np.frombuffer(self._blob, dtype=np.uint8), "vocab_ends": self._ends}


@dataclass(frozen=True)
class _TermCounts:
    """Per document, how many of its sentences hold each term (`terms` of the sentence):
    the answerer's rarity of a question's term within a cited paper, read here instead of
    tokenising the paper's every sentence at each question (13 ms a question at 9,800
    papers, where almost every cited paper is new to the process)."""

    vocab: _Vocab
    docs: dict[str, int]  # doc id -> its slot
    ptr: np.ndarray  # slot i's entries: ids/counts[ptr[i]:ptr[i + 1]], ids ascending
    ids: np.ndarray  # int32 term ids
    counts: np.ndarray  # uint16 sentences holding the term

    def of(self, doc: str, wanted: Sequence[str]) -> dict[str, int]:
        i = self.docs.get(doc)
        if i is None:
            return {}
        a, b = int(self.ptr[i]), int(self.ptr[i + 1])
        ids, out = self.ids[a:b], {}
        for term in wanted:
            tid = self.vocab.get(term)
            j = int(np.searchsorted(ids, tid)) if tid is not None else len(ids)
            if j < len(ids) and ids[j] == tid:
                out[term] = int(self.counts[a + j])
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        vocab = self.vocab.arrays()
        return {
            "term_vocab_blob": vocab["vocab_blob"],
            "term_vocab_ends": vocab["vocab_ends"],
            "term_ptr": self.ptr,
            "term_ids": self.ids,
            "term_counts": self.counts,
        }


def _term_table(
    docs: list[str], doc_of: np.ndarray, term_of: np.ndarray, counts: np.ndarray, names: list[str]
) -> _TermCounts:
    """A _TermCounts from (doc slot, term number, count) entries, terms numbered in `names`."""
    ranked = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[ranked] = np.arange(len(names))
    ids = rank[term_of] if len(term_of) else term_of.astype(np.int64)
    order = np.lexsort((ids, doc_of))
    ptr = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc_of, minlength=len(docs)), out=ptr[1:])
    return _TermCounts(
        _Vocab.of([names[i] for i in ranked]),
        {d: i for i, d in enumerate(docs)},
        ptr,
        ids[order].astype(np.int32),
        np.minimum(counts[order], np.iinfo(np.uint16).max).astype(np.uint16),
    )


def _term_counts(s: _Segment) -> _TermCounts:
    """Count each document's sentences' terms (at derive time; 3-5 ms a paper)."""
    names: dict[str, int] = {}
    doc_of, term_of, counts = [], [], []
    for slot, (doc, (lo, hi)) in enumerate(s.doc_rows.items()):
        text = s.texts.get(doc, "")
        held = Counter(t for a, b in s.sent_span[lo:hi].tolist() for t in set(terms(text[a:b])))
        for term, n in held.items():
            doc_of.append(slot)
            term_of.append(names.setdefault(term, len(names)))
            counts.append(n)
    return _term_table(
        list(s.doc_rows),
        np.asarray(doc_of, dtype=np.int64),
        np.asarray(term_of, dtype=np.int64),
        np.asarray(counts, dtype=np.int64),
        list(names),
    )


def _merged_term_counts(merged: _Segment, segments: list[_Segment]) -> _TermCounts:
    """The merged segment's table from its inputs' tables, term ids remapped."""
    docs = list(merged.doc_rows)
    slot = {d: i for i, d in enumerate(docs)}
    names: dict[str, int] = {}
    doc_of, term_of, counts = [], [], []
    for s in segments:
        table = s.term_counts
        assert table is not None  # _add
        remap = np.array([names.setdefault(t, len(names)) for t in table.vocab], dtype=np.int64)
        for d in sorted(s.live_docs & set(table.docs)):
            if d not in slot:
                continue
            a, b = int(table.ptr[table.docs[d]]), int(table.ptr[table.docs[d] + 1])
            doc_of.append(np.full(b - a, slot[d], dtype=np.int64))
            term_of.append(remap[table.ids[a:b]])
            counts.append(table.counts[a:b].astype(np.int64))
    empty = np.zeros(0, dtype=np.int64)
    return _term_table(
        docs,
        np.concatenate(doc_of) if doc_of else empty,
        np.concatenate(term_of) if term_of else empty,
        np.concatenate(counts) if counts else empty,
        list(names),
    )


# Documents' vector files mapped at once, over all segments: each map holds a file
# descriptor (Python's mmap keeps its own) and a service's limit may be 1,024, so the
# least recently used are unmapped past half the limit (raised to the hard one first).
_OPEN: OrderedDict[tuple[int, str], _MappedVectors] = OrderedDict()
_OPEN_LOCK = threading.RLock()


@functools.cache
def _max_open() -> int:
    try:
        import resource
    except ImportError:  # Windows: no such limit on mapped files
        return 4096
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return max(64, min(16384, (soft if soft != resource.RLIM_INFINITY else 65536) // 2 - 128))


class _MappedVectors:
    """A segment's sentence vectors, memory-mapped from the store's files document by
    document (mapped on first use): a question reads only its shortlist's rows, and the
    serving process holds none of them (they were 2.3 GB in RAM at 9,800 papers). Indexed
    like the (n, dim) float32 matrix it stands for; a document without files reads as 0."""

    def __init__(
        self, store: Store, docs: dict[str, str], rows: dict[str, tuple[int, int]], n: int, dim: int
    ) -> None:
        self._store = store
        self._gens = docs
        self._order = sorted(rows, key=lambda d: rows[d][0])
        self._los = np.array([rows[d][0] for d in self._order], dtype=np.int64)
        self._rows = rows
        self._maps: dict[str, np.ndarray] = {}  # this segment's entries of _OPEN
        self.shape = (n, dim)
        self.size = n * dim
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def doc(self, doc: str) -> np.ndarray:
        """The document's rows (zeros where its files are gone or wrong, or cannot be
        mapped now: then tried again next time)."""
        with _OPEN_LOCK:
            got = self._maps.get(doc)
            if got is not None:
                _OPEN.move_to_end((id(self), doc))
                return got
        lo, hi = self._rows[doc]
        got = self._store.map_sentence_vectors(doc, self._gens[doc], hi - lo)
        if got is None or got.shape != (hi - lo, self.shape[1]):
            return np.zeros((hi - lo, self.shape[1]), dtype=np.float32)
        with _OPEN_LOCK:
            self._maps[doc] = got
            _OPEN[(id(self), doc)] = self
            while len(_OPEN) > _max_open():  # each map holds a file descriptor
                (_, old_doc), owner = _OPEN.popitem(last=False)
                owner._maps.pop(old_doc, None)
        return got

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(np.searchsorted(self._los, key, side="right")) - 1
            doc = self._order[i]
            return self.doc(doc)[int(key) - int(self._los[i])].astype(np.float32)
        if isinstance(key, slice):
            key = np.arange(*key.indices(self.shape[0]))
        rows = np.asarray(key, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        which = np.searchsorted(self._los, sorted_rows, side="right") - 1
        cuts = np.flatnonzero(np.diff(which)) + 1
        for part in np.split(np.arange(len(rows)), cuts):
            i = int(which[part[0]])
            doc = self._order[i]
            out[order[part]] = self.doc(doc)[sorted_rows[part] - self._los[i]]
        return out

    def __matmul__(self, q: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[0], dtype=np.float32)
        for doc in self._order:
            lo, hi = self._rows[doc]
            out[lo:hi] = self.doc(doc) @ q
        return out

    def astype(self, dtype: Any) -> np.ndarray:
        return self[np.arange(self.shape[0])].astype(dtype)


@dataclass(frozen=True)
class _Lists:
    """Inverted lists over a segment's projections: list l holds the sentence rows
    rows[ptr[l]:ptr[l + 1]], whose projections are reduced[ptr[l]:ptr[l + 1]]."""

    centroids: np.ndarray  # (lists, _REDUCED_DIMS) float32, unit length
    ptr: np.ndarray  # (lists + 1,) int64
    rows: np.ndarray  # (n,) int32


@dataclass
class _Segment:
    """One immutable batch of documents' derived data; `alive` masks replaced versions."""

    name: str
    docs: dict[str, str]  # doc id -> generation
    defs: dict[str, list[list[list[str]]]]  # doc id -> [[short terms], [long terms]]
    chunks: Sequence[ChunkRecord]  # a list when derived, _Chunks when read
    chunk_doc: list[str]
    vocab: _Vocab
    indptr: np.ndarray  # postings of term t: rows/tf[indptr[t]:indptr[t + 1]]
    rows: np.ndarray
    tf: np.ndarray
    lengths: np.ndarray  # terms per chunk
    texts: Mapping[str, str]  # doc id -> cleaned text, for sentence texts (_Texts when read)
    sent_doc: list[str]  # per sentence row, sorted by (doc, start)
    sent_span: np.ndarray  # (n, 2) start, end
    # (n, dim) float32 in memory while derived, then mapped from the store's files (float16,
    # _MappedVectors); with a server, a float16 copy in the segment, held in memory.
    vectors: Any
    member_rows: np.ndarray  # sentence rows of all chunks, concatenated
    member_ptr: np.ndarray  # chunk c's rows: member_rows[member_ptr[c]:member_ptr[c + 1]]
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    live_docs: set[str] = field(default_factory=set)  # set with `alive` by each view
    doc_rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Documents whose vectors the store no longer has (a replaced version): never searched.
    vectorless: set[str] = field(default_factory=set)
    stale_format: int | None = None  # read from an older format: rewrite it
    basis: np.ndarray | None = None  # (dim, _REDUCED_DIMS): the principal axes
    # (n, _REDUCED_DIMS) int8: vectors @ basis ~ reduced * reduced_scale; memory-mapped
    reduced: np.ndarray | None = None  # in inverted-list order when `ivf` is set
    reduced_scale: np.ndarray | None = None  # (_REDUCED_DIMS,) float32, per axis
    ivf: _Lists | None = None
    # Which chunks hold each sentence row (built on first use): chunks[ptr[r]:ptr[r + 1]].
    sent_chunks: tuple[np.ndarray, np.ndarray] | None = None
    doc_codes: tuple[list[str], np.ndarray] | None = None  # _chunk_doc_codes
    term_counts: _TermCounts | None = None  # set by _add, a merge, or read

    def __post_init__(self) -> None:
        self.alive = np.ones(len(self.chunks), dtype=bool)
        self.live_docs = set(self.docs)
        if not self.doc_rows:
            self.doc_rows = _runs(self.sent_doc)


def _runs(sent_doc: list[str]) -> dict[str, tuple[int, int]]:
    """Each document's sentence rows (lo, hi): rows are sorted by document."""
    rows: dict[str, tuple[int, int]] = {}
    row = 0
    for doc, group in itertools.groupby(sent_doc):
        n = sum(1 for _ in group)
        rows[doc] = (row, row + n)
        row += n
    return rows


@dataclass
class _View:
    """The segments in search order, with the live corpus's BM25 statistics."""

    revision: str
    segments: list[_Segment]
    offsets: np.ndarray  # first global row of each segment, and the total at the end
    owner: dict[str, _Segment]  # live doc id -> the segment holding its visible version
    n: int
    avgdl: float


class SearchIndex:
    """Keyword and sentence-vector search over every chunk in the store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._dir = settings.index_dir / "cache" / settings.collection
        self._view: _View | None = None
        self._loaded: dict[str, _Segment] = {}
        self._lock = threading.Lock()
        self._hidden: frozenset[str] = frozenset()

    def view(self) -> _View:
        """The segments as of now: pass it to keyword(), semantic() and chunk() so that a
        refresh in between (another thread's ingest) cannot shift the rows they name."""
        return self._current()

    def chunk(self, row: int, view: _View | None = None) -> ChunkRecord:
        view = view or self._current()
        i = int(np.searchsorted(view.offsets, row, side="right")) - 1
        return view.segments[i].chunks[row - int(view.offsets[i])]

    def keyword(self, query: str, k: int, view: _View | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk row, BM25 score), best first; only positive scores."""
        view = view or self._current()
        if not view.n:
            return []
        asked = index_terms(query)
        asked += [t for t in dict.fromkeys(initialisms(query)) if t not in asked]
        scores = np.zeros(int(view.offsets[-1]), dtype=np.float32)
        for term in asked:  # a repeated term counts again, as in bm25s
            postings = _postings(view, term)
            df = sum(len(r) for _, r, _ in postings)
            if not df:
                continue
            idf = math.log(1 + (view.n - df + 0.5) / (df + 0.5))
            for base, rows, tf in postings:
                lengths = view.segments[base].lengths[rows]
                norm = _K1 * ((1 - _B) + _B * lengths / view.avgdl)
                scores[view.offsets[base] + rows] += idf * tf / (norm + tf)
        return _top(scores, k, positive=True)

    def semantic(
        self,
        query_vector: Sequence[float],
        k: int,
        *,
        shortlist: int = 0,
        view: _View | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k (chunk row, cosine of the chunk's best sentence), best first.

        With a `shortlist` (>= k), each large segment first scores its sentences in a
        _REDUCED_DIMS-dimensional projection (its own principal axes: a third of the
        memory to read; through its inverted lists when it has them), and only the
        sentences of the `shortlist` best chunks by that, over all segments together,
        are scored exactly (per segment, 8 segments read 8 shortlists). 0 scores every
        sentence exactly.
        """
        view = view or self._current()
        if not view.n:
            return []
        q = np.asarray(query_vector, dtype=np.float32)
        shortlist = shortlist if shortlist >= k else 0
        hits: list[tuple[int, float]] = []
        found = []  # (segment, its shortlisted chunk rows, their approximate scores)
        with _BLAS.limit(limits=1, user_api="blas"):
            for i, s in enumerate(view.segments):
                if s.reduced is None or s.basis is None or not shortlist:
                    top = _top(_best_sentences(s, q), k, positive=False)
                    hits += [(int(view.offsets[i]) + row, score) for row, score in top]
                else:
                    found.append((i, *_shortlisted(s, q @ s.basis, shortlist)))
            if found:
                pooled = np.concatenate([approx for *_, approx in found])
                n = min(shortlist, len(pooled))
                chosen = np.zeros(len(pooled), dtype=bool)
                if n:
                    chosen[np.argpartition(-pooled, n - 1)[:n]] = True
                at = 0
                for i, local, _ in found:
                    mine = local[chosen[at : at + len(local)]]
                    at += len(local)
                    exact = _best_of(view.segments[i], mine, q)
                    hits += [
                        (int(view.offsets[i]) + row, float(score))
                        for row, score in zip(mine.tolist(), exact.tolist(), strict=True)
                        if score > -np.inf
                    ]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:k]

    def sentences(self, doc_id: str, start: int, end: int) -> list[tuple[Sentence, np.ndarray]]:
        """Sentences lying wholly in [start, end) of a document, with their vectors."""
        segment = self._current().owner.get(doc_id)
        if segment is None or doc_id not in segment.doc_rows:
            return []
        lo, hi = segment.doc_rows[doc_id]
        vectors = (
            segment.vectors.doc(doc_id)
            if isinstance(segment.vectors, _MappedVectors)
            else segment.vectors[lo:hi]
        )
        text = segment.texts.get(doc_id, "")
        out = []
        for row in range(lo, hi):
            a, b = (int(x) for x in segment.sent_span[row])
            if a >= start and b <= end:
                out.append((Sentence(a, b, text[a:b]), np.asarray(vectors[row - lo])))
        return out

    def term_counts(self, doc_id: str, wanted: Sequence[str]) -> tuple[int, dict[str, int]]:
        """A document's sentence count and how many of its sentences hold each wanted term."""
        segment = self._current().owner.get(doc_id)
        if segment is None or doc_id not in segment.doc_rows:
            return 0, {}
        lo, hi = segment.doc_rows[doc_id]
        assert segment.term_counts is not None  # _add
        return hi - lo, segment.term_counts.of(doc_id, wanted)

    def idf(self, words: list[str]) -> dict[str, float]:
        """BM25 idf of each term; a term the corpus lacks gets the highest idf."""
        view = self._current()
        out = {}
        for word in set(words):
            df = sum(len(r) for _, r, _ in _postings(view, word))
            out[word] = math.log(1 + (view.n - df + 0.5) / (df + 0.5))
        return out

    def unseen(self, words: list[str]) -> set[str]:
        """The terms no chunk contains."""
        view = self._current()
        return {w for w in words if not _postings(view, w)}

    def hide(self, doc_ids: frozenset[str]) -> None:
        """Leave these documents out of search and of the corpus statistics (a duplicate's
        other copies: a second copy must not shift idf, and with it what is answered)."""
        with self._lock:
            if doc_ids != self._hidden:
                self._hidden = doc_ids
                if self._view is not None:
                    self._view.revision = ""  # the next refresh recomputes the view

    # -- the cache --------------------------------------------------------------
    def refresh(self, *, complete: bool = False) -> None:
        """Catch up with the store; one Chroma round trip when nothing changed.

        Documents another process added are picked up from its segments on disk, or
        derived here, at most _STEP documents per call unless `complete` (or nothing is
        loaded yet), so that a question never waits for a whole batch.
        """
        revision = self._store.revision()
        with self._lock:
            view = self._view
            if view is not None and view.revision == revision:
                return
            generations = self._store.generations()
            self._load_new()
            missing = _missing(generations, self._loaded.values())
            limit = None if complete or view is None else _STEP
            if missing:
                self._add(self._build(missing[:limit], generations))
            self._merge_small(generations)
            self._view = _view(
                revision if len(missing) <= (limit or len(missing)) else "",
                self._loaded,
                {d: g for d, g in generations.items() if d not in self._hidden},
            )

    def _current(self) -> _View:
        if self._view is None:
            self.refresh(complete=True)
        assert self._view is not None
        return self._view

    def _load_new(self) -> None:
        """Segments other processes wrote since; drop those a merge replaced."""
        # The single-file cache that came before segments.
        for legacy in ("meta.json", "vectors.npy"):
            (self._dir / legacy).unlink(missing_ok=True)
        shutil.rmtree(self._dir / "bm25", ignore_errors=True)
        on_disk = {p.name for p in self._dir.glob("seg-*") if (p / "manifest.json").is_file()}
        for name in set(self._loaded) - on_disk:
            del self._loaded[name]
        old: Counter[int | None] = Counter()
        for name in sorted(on_disk - set(self._loaded)):
            segment = _without_gc(_read, self._dir / name, self._store)
            if segment is None:  # broken or too old: its documents are derived again
                old[_format(self._dir / name)] += 1
                shutil.rmtree(self._dir / name, ignore_errors=True)
            elif segment.stale_format is not None:  # rewritten in this format, not re-derived
                old[segment.stale_format] += 1
                segment.name = _new_name()
                self._add(segment)
                shutil.rmtree(self._dir / name, ignore_errors=True)
            else:
                self._loaded[name] = segment
        for fmt, count in old.items():
            fate = (
                "rewritten with its sentences' term counts"
                if fmt == _CACHE_FORMAT
                else "rewritten"
                if fmt in _MIGRATES
                else "derived again from the store"
            )
            _log.warning(
                "search cache %s: %d segment(s) in format %s (this version writes %d): %s",
                self._dir,
                count,
                fmt,
                _CACHE_FORMAT,
                fate,
            )

    def _add(self, segment: _Segment) -> None:
        # Every segment in use passed here or was read with them: derived, or read from
        # before the counts (rewritten here); a merge remaps its inputs' instead.
        if segment.term_counts is None:
            segment.term_counts = _term_counts(segment)
        in_store = self._in_store(segment)
        _write(self._dir, segment, store_vectors=in_store)
        if in_store:  # mapped from the store's files from now on, as a later read will
            _map_vectors(segment, self._store)
        else:  # as a later read will see them
            segment.vectors = np.asarray(segment.vectors).astype(np.float16).astype(np.float32)
        self._loaded[segment.name] = segment

    def _in_store(self, segment: _Segment) -> bool:
        """Whether the store has every one of the segment's sentence vectors in files (an
        index written before they moved out of Chroma's SQLite has not)."""
        for doc, (lo, hi) in segment.doc_rows.items():
            if doc in segment.vectorless:  # a replaced version's: never searched anyway
                continue
            files = self._store.vector_files(doc, segment.docs[doc], hi - lo)
            if files is None or not all(f.is_file() for f in files):
                return False
        return True

    def _build(self, doc_ids: list[str], generations: dict[str, str]) -> _Segment:
        chunks, sentences, texts = self._store.parts(doc_ids)
        docs = {d: generations[d] for d in doc_ids}
        by_doc: dict[str, list[ChunkRecord]] = {d: [] for d in doc_ids}
        for chunk_id, text, meta in chunks:
            own = {k: v for k, v in meta.items() if k not in _NODE_KEYS}
            by_doc[str(meta.get("doc_id"))].append(ChunkRecord(chunk_id, text, own))
        defs: dict[str, list[list[list[str]]]] = {}
        for d, records in by_doc.items():
            found: dict[tuple[str, ...], tuple[str, ...]] = {}
            for r in records:
                found.update(definitions(r.text))
            defs[d] = [[list(s), list(lf)] for s, lf in found.items()]
        # The corpus vote includes every live document, as one index built at once would.
        votes = {d: defs_ for s in self._loaded.values() for d, defs_ in s.defs.items()}
        votes = {d: v for d, v in votes.items() if d in generations} | defs
        abbreviations = Abbreviations(
            {d: {tuple(s): tuple(lf) for s, lf in v} for d, v in votes.items()}
        )
        records = [r for d in doc_ids for r in by_doc[d]]
        tokens = []
        for r in records:
            unigrams = terms(f"{r.metadata.get('title', '')}\n{r.text}")
            doc = str(r.metadata.get("doc_id"))
            tokens.append(with_bigrams(unigrams) + abbreviations.expand(doc, unigrams))
        return _segment(_new_name(), docs, defs, records, tokens, sentences, texts)

    def _merge_small(self, generations: dict[str, str]) -> None:
        """Keep few segments: past _MAX_SEGMENTS, the two smallest are merged if alike in
        size (the larger at most _ALIKE times the smaller), or if there are twice that
        many; a mostly masked segment joins a merge. So a merge costs what its inputs
        hold: adding one paper to 9,800 (8 segments of about 1,200) waits, as a small
        segment, for other small ones, where merging it at once would have rewritten 1,200
        papers before the next answer."""
        _view("", self._loaded, generations)  # sets each segment's live mask
        for dead in [s for s in self._loaded.values() if len(s.chunks) and not s.alive.any()]:
            del self._loaded[dead.name]  # every version it holds was replaced or removed
            shutil.rmtree(self._dir / dead.name, ignore_errors=True)
        while len(self._loaded) > _MAX_SEGMENTS:
            _view("", self._loaded, generations)
            segments = sorted(self._loaded.values(), key=lambda s: int(s.alive.sum()))
            first, second = (int(s.alive.sum()) for s in segments[:2])
            if second > _ALIKE * max(first, 1) and len(segments) <= 2 * _MAX_SEGMENTS:
                return
            picked = segments[:2] + [
                s for s in segments[2:] if len(s.chunks) and (~s.alive).mean() > _DEAD_SHARE
            ]
            self._add(_merge(picked))
            for s in picked:
                del self._loaded[s.name]
                shutil.rmtree(self._dir / s.name, ignore_errors=True)


# -- scoring ---------------------------------------------------------------------
def _postings(view: _View, term: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(segment index, live chunk rows in it, their tf) of every live chunk holding `term`."""
    out = []
    for i, s in enumerate(view.segments):
        tid = s.vocab.get(term)
        if tid is None:
            continue
        lo, hi = s.indptr[tid], s.indptr[tid + 1]
        rows, tf = s.rows[lo:hi], s.tf[lo:hi].astype(np.float32)  # uint16 as read
        live = s.alive[rows]
        if live.any():
            out.append((i, rows[live], tf[live]))
    return out


def _best_sentences(segment: _Segment, q: np.ndarray, sims: np.ndarray | None = None) -> np.ndarray:
    """Each chunk's best sentence cosine (of `sims`, each sentence row's, if given); -1 for
    a chunk without one, -inf for a dead one."""
    best = np.full(len(segment.chunks), -1.0, dtype=np.float32)
    # none if every document's files are gone
    if len(segment.member_rows) and (sims is not None or segment.vectors.size):
        if sims is None:
            sims = segment.vectors @ q
        counts = np.diff(segment.member_ptr)
        some = counts > 0
        best[some] = np.maximum.reduceat(sims[segment.member_rows], segment.member_ptr[:-1][some])
    best[~segment.alive] = -np.inf
    return best


def _projected(s: _Segment, qr: np.ndarray, a: int, b: int) -> np.ndarray:
    """Rows a:b's projections . qr, from their int8 codes (in pieces: a bounded copy)."""
    assert s.reduced is not None and s.reduced_scale is not None
    qs = qr * s.reduced_scale
    return np.concatenate(
        [s.reduced[i : min(i + 65536, b)].astype(np.float32) @ qs for i in range(a, b, 65536)]
        or [np.zeros(0, dtype=np.float32)]
    )


def _quantized(projected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes and per-axis scales of projections: a quarter of float32's bytes on disk
    (0.7 -> 0.18 GB at 9,800 papers) and to read per probe; the shortlist's recall@50 was
    0.978 either way, the semantic side 22.9 against 24.7 ms (eval.bench.scale --probe)."""
    scale = np.maximum(np.abs(projected).max(axis=0, initial=0.0), 1e-12) / 127
    codes = np.clip(np.rint(projected / scale), -127, 127).astype(np.int8)
    return codes, scale.astype(np.float32)


def _probed(s: _Segment, qr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sentence rows of the inverted lists nearest the question, and their
    approximate cosines."""
    assert s.ivf is not None
    lists = s.ivf
    n_lists = len(lists.ptr) - 1
    probe = max(1, min(n_lists, round(n_lists * _PROBE_SHARE)))
    near = np.argpartition(-(lists.centroids @ qr), probe - 1)[:probe]
    sims, rows = [], []
    for li in near.tolist():
        a, b = int(lists.ptr[li]), int(lists.ptr[li + 1])
        sims.append(_projected(s, qr, a, b))
        rows.append(lists.rows[a:b])
    return np.concatenate(rows).astype(np.int64), np.concatenate(sims)


def _shortlisted(s: _Segment, qr: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The segment's n best live chunks by their best approximated sentence (through its
    inverted lists when it has them), best first: (chunk rows, scores). The best sentences
    are walked until n chunks are found (a chunk's first appearance is its best sentence),
    instead of giving every chunk a score: that was 7 of a question's 18 ms of probing at
    9,800 papers."""
    if s.ivf is not None:
        rows, sims = _probed(s, qr)
    else:
        assert s.reduced is not None
        rows, sims = np.arange(len(s.reduced)), _projected(s, qr, 0, len(s.reduced))
    ptr, chunks = _sentence_chunks(s)
    m = min(len(sims), 4 * n)
    while m:
        top = np.argpartition(-sims, m - 1)[:m] if m < len(sims) else np.arange(m)
        top = top[np.argsort(-sims[top], kind="stable")]
        r = rows[top]
        counts = ptr[r + 1] - ptr[r]
        firsts = np.repeat(ptr[r] - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
        held, score = chunks[firsts], np.repeat(sims[top], counts)
        live = s.alive[held]
        held, score = held[live], score[live]
        _, first = np.unique(held, return_index=True)
        if len(first) >= n or m == len(sims):
            keep = np.sort(first)[:n]
            return held[keep], score[keep]
        m = min(len(sims), 4 * m)
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


def _sentence_chunks(s: _Segment) -> tuple[np.ndarray, np.ndarray]:
    """The chunks holding each sentence row, as (ptr, chunks): the inverse of members."""
    if s.sent_chunks is None:
        chunk_of = np.repeat(np.arange(len(s.chunks)), np.diff(s.member_ptr))
        order = np.argsort(s.member_rows, kind="stable")
        ptr = np.zeros(len(s.sent_doc) + 1, dtype=np.int64)
        np.cumsum(np.bincount(s.member_rows, minlength=len(s.sent_doc)), out=ptr[1:])
        s.sent_chunks = (ptr, chunk_of[order])
    return s.sent_chunks


def _kmeans_lists(reduced: np.ndarray) -> tuple[_Lists, np.ndarray]:
    """Spherical k-means over the projections (seeded: the same lists on every machine),
    and the row order that puts each list's rows together."""
    n = len(reduced)
    k = max(2, round(math.sqrt(n) / 2))
    rng = np.random.default_rng(20261207)
    unit = reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)
    sample = unit[np.sort(rng.choice(n, size=min(n, k * _KMEANS_SAMPLE), replace=False))]
    centroids = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    for _ in range(_KMEANS_ROUNDS):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        empty = np.bincount(assign, minlength=k) == 0
        sums[empty] = centroids[empty]  # a list nothing joined keeps its centre
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    assign = np.concatenate(
        [np.argmax(unit[i : i + 65536] @ centroids.T, axis=1) for i in range(0, n, 65536)]
    )
    order = np.argsort(assign, kind="stable")
    ptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(np.bincount(assign, minlength=k), out=ptr[1:])
    return _Lists(centroids.astype(np.float32), ptr, order.astype(np.int32)), order


def _best_of(s: _Segment, local: np.ndarray, q: np.ndarray) -> np.ndarray:
    """_best_sentences for some chunks only: just their sentences' rows are read."""
    out = np.full(len(local), -1.0, dtype=np.float32)
    starts, counts = s.member_ptr[local], np.diff(s.member_ptr)[local]
    some = counts > 0
    if some.any() and s.vectors.size:
        c = counts[some]
        firsts = np.cumsum(c) - c  # each chunk's first place in the gathered rows
        gather = np.repeat(starts[some] - firsts, c) + np.arange(int(c.sum()))
        rows = s.member_rows[gather]
        sims = s.vectors[rows] @ q
        out[some] = np.maximum.reduceat(sims, firsts)
    out[~s.alive[local]] = -np.inf
    return out


def _top(scores: np.ndarray, k: int, *, positive: bool) -> list[tuple[int, float]]:
    k = min(k, len(scores))
    rows = np.argpartition(-scores, k - 1)[:k] if k else np.zeros(0, dtype=int)
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    floor = 0.0 if positive else -np.inf
    return [(int(r), float(scores[r])) for r in rows if scores[r] > floor]


# -- segments --------------------------------------------------------------------
def _missing(generations: dict[str, str], segments: Any) -> list[str]:
    held = {(d, g) for s in segments for d, g in s.docs.items() if d not in s.vectorless}
    return sorted(d for d, g in generations.items() if (d, g) not in held)


def _view(revision: str, loaded: dict[str, _Segment], generations: dict[str, str]) -> _View:
    """Mark each visible document version live in exactly one segment (the newest)."""
    segments = sorted(loaded.values(), key=lambda s: s.name)
    owner: dict[str, _Segment] = {}
    for s in reversed(segments):
        for d, g in s.docs.items():
            if generations.get(d) == g and d not in owner and d not in s.vectorless:
                owner[d] = s
    for s in segments:
        docs, codes = _chunk_doc_codes(s)
        s.alive = np.array([owner.get(d) is s for d in docs], dtype=bool)[codes]
        s.live_docs = {d for d in s.docs if owner.get(d) is s}
    offsets = np.cumsum([0] + [len(s.chunks) for s in segments])
    n = int(sum(s.alive.sum() for s in segments))
    total = float(sum(s.lengths[s.alive].sum() for s in segments))
    return _View(revision, segments, offsets, owner, n, total / n if n else 1.0)


def _chunk_doc_codes(s: _Segment) -> tuple[list[str], np.ndarray]:
    """The segment's documents and each chunk's index among them (made once): a view marks
    documents live, not 290,000 chunks one by one (0.3 s of adding a paper at 9,800)."""
    if s.doc_codes is None:
        index: dict[str, int] = {}
        codes = np.fromiter(
            (index.setdefault(d, len(index)) for d in s.chunk_doc), np.int32, len(s.chunk_doc)
        )
        s.doc_codes = (list(index), codes)
    return s.doc_codes


def _new_name() -> str:
    return f"seg-{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"


def _segment(
    name: str,
    docs: dict[str, str],
    defs: dict[str, list[list[list[str]]]],
    records: list[ChunkRecord],
    tokens: list[list[str]],
    sentences: list[tuple[str, int, int, np.ndarray]],
    texts: dict[str, str],
) -> _Segment:
    """Postings and chunk members from chunks' tokens and (doc, start, end, vector)."""
    vocab: dict[str, int] = {}
    t_ids, t_rows, t_tf = [], [], []
    for row, toks in enumerate(tokens):
        for term, count in Counter(toks).items():
            t_ids.append(vocab.setdefault(term, len(vocab)))
            t_rows.append(row)
            t_tf.append(count)
    terms, indptr, rows, tf = _by_term(
        list(vocab),
        np.asarray(t_ids, dtype=np.int64),
        np.asarray(t_rows, dtype=np.int32),
        np.asarray(t_tf, dtype=np.float32),
    )
    sentences = sorted(sentences, key=lambda s: (s[0], s[1]))
    dim = len(sentences[0][3]) if sentences else 0
    vectors = (
        np.stack([s[3] for s in sentences]).astype(np.float32)
        if sentences
        else np.zeros((0, dim), dtype=np.float32)
    )
    sent_doc = [s[0] for s in sentences]
    span = np.array([[s[1], s[2]] for s in sentences], dtype=np.int64).reshape(-1, 2)
    member_rows, member_ptr = _members(records, sent_doc, span)
    return _reduce(
        _Segment(
            name=name,
            docs=docs,
            defs=defs,
            chunks=records,
            chunk_doc=[str(r.metadata.get("doc_id")) for r in records],
            vocab=terms,
            indptr=indptr,
            rows=rows,
            tf=tf,
            lengths=np.array([len(t) for t in tokens], dtype=np.float32),
            texts=texts,
            sent_doc=sent_doc,
            sent_span=span,
            vectors=vectors,
            member_rows=member_rows,
            member_ptr=member_ptr,
        )
    )


def _by_term(
    terms: list[str], ids: np.ndarray, rows: np.ndarray, tf: np.ndarray
) -> tuple[_Vocab, np.ndarray, np.ndarray, np.ndarray]:
    """Postings (term id, row, tf) grouped by term, the terms renumbered in sorted order;
    a term's rows keep their order."""
    ranked = sorted(range(len(terms)), key=terms.__getitem__)
    rank = np.empty(len(terms), dtype=np.int64)
    rank[ranked] = np.arange(len(terms))
    ids = rank[ids] if len(ids) else ids
    order = np.argsort(ids, kind="stable")
    indptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(np.bincount(ids, minlength=len(terms)), out=indptr[1:])
    return _Vocab.of([terms[i] for i in ranked]), indptr, rows[order], tf[order]


def _reduce(s: _Segment) -> _Segment:
    """Project a large segment's sentence vectors on their first principal axes (of an even
    sample; not centred, so the shared direction is kept): the shortlist's pre-score."""
    s.basis = s.reduced = s.reduced_scale = s.ivf = None
    if len(s.vectors) >= _REDUCE_FROM and s.vectors.shape[1] > _REDUCED_DIMS:
        live = s.vectors[np.any(s.vectors != 0, axis=1)]  # not a vectorless document's rows
        sample = live[:: max(1, len(live) // _BASIS_SAMPLE)]
        _, _, axes = np.linalg.svd(sample.astype(np.float64), full_matrices=False)
        s.basis = np.ascontiguousarray(axes[:_REDUCED_DIMS].T, dtype=np.float32)
        projected = s.vectors @ s.basis
        # Coded as on disk, so that a segment scores the same before and after a reload.
        s.reduced, s.reduced_scale = _quantized(projected)
        s.ivf = None
        if len(s.reduced) >= _IVF_FROM:
            s.ivf, order = _kmeans_lists(projected)
            s.reduced = np.ascontiguousarray(s.reduced[order])
    return s


def _members(
    records: list[ChunkRecord], sent_doc: list[str], span: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The sentence rows inside each chunk (rows are sorted by document, then start)."""
    ranges = _runs(sent_doc)
    parts, ptr = [], [0]
    for c in records:
        lo, hi = ranges.get(str(c.metadata.get("doc_id")), (0, 0))
        a, b = int(c.metadata.get("start", 0)), int(c.metadata.get("end", 0))
        s, e = span[lo:hi, 0], span[lo:hi, 1]
        inside = np.flatnonzero((s >= a) & (e <= b))
        # A chunk cut inside one long sentence still scores by the sentences it touches.
        if not len(inside):
            inside = np.flatnonzero((s < b) & (e > a))
        parts.append(inside + lo)
        ptr.append(ptr[-1] + len(inside))
    rows = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
    return rows, np.asarray(ptr, dtype=np.int64)


def _merge(segments: list[_Segment]) -> _Segment:
    """One segment holding the live documents of `segments`, postings remapped, not re-derived."""
    docs: dict[str, str] = {}
    defs: dict[str, list[list[list[str]]]] = {}
    texts: dict[str, str] = {}
    records: list[ChunkRecord] = []
    sentences: list[tuple[str, int, int, np.ndarray]] = []
    vocab: dict[str, int] = {}
    ids, rows, tfs, lengths = [], [], [], []
    for s in segments:
        live_docs = s.live_docs
        docs.update({d: s.docs[d] for d in live_docs})
        defs.update({d: s.defs.get(d, []) for d in live_docs})
        texts.update({d: s.texts.get(d, "") for d in live_docs})
        keep = np.flatnonzero(s.alive)
        new_row = np.full(len(s.chunks), -1, dtype=np.int64)
        new_row[keep] = np.arange(len(records), len(records) + len(keep))
        records += [s.chunks[i] for i in keep]
        lengths.append(s.lengths[keep])
        remap = np.array([vocab.setdefault(t, len(vocab)) for t in s.vocab], dtype=np.int64)
        term_of = np.repeat(np.arange(len(s.vocab)), np.diff(s.indptr))
        live = s.alive[s.rows]
        ids.append(remap[term_of[live]] if len(remap) else np.zeros(0, dtype=np.int64))
        rows.append(new_row[s.rows[live]])
        tfs.append(s.tf[live])
        for d in sorted(live_docs & set(s.doc_rows)):
            lo, hi = s.doc_rows[d]
            block = np.asarray(
                s.vectors.doc(d) if isinstance(s.vectors, _MappedVectors) else s.vectors[lo:hi]
            )
            sentences += [
                (d, int(s.sent_span[r, 0]), int(s.sent_span[r, 1]), block[r - lo])
                for r in range(lo, hi)
            ]
    merged = _segment(_new_name(), docs, defs, records, [], sentences, texts)
    if ids:
        merged.vocab, merged.indptr, merged.rows, merged.tf = _by_term(
            list(vocab),
            np.concatenate(ids),
            np.concatenate(rows).astype(np.int32),
            np.concatenate(tfs).astype(np.float32),
        )
    merged.lengths = np.concatenate(lengths) if lengths else merged.lengths
    merged.term_counts = _merged_term_counts(merged, segments)
    return merged


def _write(folder: Path, s: _Segment, *, store_vectors: bool) -> None:
    """Write to a temporary folder and rename: readers see a whole segment or none.

    Compact on disk: 32-bit offsets, uint16 term frequencies; no sentence vectors when the
    store keeps them in files (embedded), else a float16 copy (cosines move by < 1e-3).
    """
    tmp = folder / f".{s.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _save_arrays(
        tmp,
        indptr=s.indptr.astype(np.int32),
        rows=s.rows.astype(np.int32),
        tf=np.minimum(s.tf, np.iinfo(np.uint16).max).astype(np.uint16),
        lengths=s.lengths,
        sent_span=s.sent_span.astype(np.int32),
        member_rows=s.member_rows.astype(np.int32),
        member_ptr=s.member_ptr.astype(np.int32),
        **s.vocab.arrays(),
        **(
            {"basis": s.basis, "reduced_scale": s.reduced_scale}
            if s.basis is not None and s.reduced is not None
            else {}
        ),
        **(
            {"ivf_centroids": s.ivf.centroids, "ivf_ptr": s.ivf.ptr, "ivf_rows": s.ivf.rows}
            if s.ivf is not None
            else {}
        ),
        **(s.term_counts.arrays() if s.term_counts is not None else {}),  # _add counts them
    )
    if s.basis is not None and s.reduced is not None:
        # int8 codes in their own file: mapped, not read, at opening.
        np.save(tmp / "reduced.npy", np.asarray(s.reduced, dtype=np.int8))
    if not store_vectors:
        np.save(tmp / "vectors.npy", np.asarray(s.vectors).astype(np.float16))
    shared = _shared_fields(s)
    text_docs = _save_texts(tmp, s.texts)
    data = {
        # A chunk's text is its document's text at its offsets; kept only where it is not.
        "chunks": [
            [c.chunk_id, _text_unless_sliced(c, s.texts), d, _own_fields(c, shared.get(d, {}))]
            for c, d in zip(s.chunks, s.chunk_doc, strict=True)
        ],
        "doc_fields": shared,
        "text_docs": text_docs,
        "sent_runs": [[d, hi - lo] for d, (lo, hi) in s.doc_rows.items()],
    }
    (tmp / "data.json").write_text(json.dumps(data))
    manifest = {
        "format": _CACHE_FORMAT,
        "vectors": "store" if store_vectors else "own",
        "docs": s.docs,
        "defs": s.defs,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest))  # written last: complete
    tmp.rename(folder / s.name)


def _save_arrays(folder: Path, **arrays: np.ndarray) -> None:
    """One .npy per array (format 6), memory-mapped when read: opening a segment copies
    none of its postings (an .npz was read whole, CRC-checked: 0.2 s at 2,450 papers)."""
    (folder / "arrays").mkdir()
    for name, array in arrays.items():
        np.save(folder / "arrays" / f"{name}.npy", np.ascontiguousarray(array))


def _load_arrays(folder: Path, fmt: int) -> dict[str, np.ndarray]:
    if fmt < 6:
        with np.load(folder / "arrays.npz") as npz:
            return {name: npz[name] for name in npz.files}
    return {
        p.stem: np.load(p, mmap_mode="r").view(np.ndarray)
        for p in sorted((folder / "arrays").glob("*.npy"))
    }


def _shared_fields(s: _Segment) -> dict[str, dict[str, Any]]:
    """Per document, the _DOC_FIELDS that all its chunks hold with one value."""
    shared: dict[str, dict[str, Any]] = {}
    for c, d in zip(s.chunks, s.chunk_doc, strict=True):
        mine = {f: c.metadata[f] for f in _DOC_FIELDS if f in c.metadata}
        held = shared.setdefault(d, mine)
        shared[d] = {f: v for f, v in held.items() if f in mine and mine[f] == v}
    return shared


def _own_fields(c: ChunkRecord, shared: dict[str, Any]) -> dict[str, Any]:
    return {f: v for f, v in c.metadata.items() if f not in shared}


def _text_unless_sliced(chunk: ChunkRecord, texts: Mapping[str, str]) -> str | None:
    return None if _sliced(texts, chunk.metadata) == chunk.text else chunk.text


def _sliced(texts: Mapping[str, str], meta: dict[str, Any]) -> str:
    return texts.get(str(meta.get("doc_id")), "")[
        int(meta.get("start", 0)) : int(meta.get("end", 0))
    ]


def _without_gc(read: Any, *args: Any) -> Any:
    """A segment's hundreds of thousands of objects, read without the cyclic collector
    walking them again and again as they are made (none of them is garbage)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return read(*args)
    finally:
        if enabled:
            gc.enable()


def _format(path: Path) -> int | None:
    try:
        return int(json.loads((path / "manifest.json").read_text())["format"])
    except Exception:
        return None


def _read(path: Path, store: Store) -> _Segment | None:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        fmt = manifest.get("format")
        if fmt not in (_CACHE_FORMAT, *_MIGRATES):
            return None
        data = json.loads((path / "data.json").read_text())
        arrays = _load_arrays(path, fmt)
        texts: Mapping[str, str] = (
            data["texts"]
            if "texts" in data  # formats 3-7
            else _Texts(path / "texts.npy", data["text_docs"], arrays["text_ends"])
        )
        if "sent_runs" in data:  # one shared string per document's rows
            sent_doc = [d for d, n in data["sent_runs"] for _ in range(n)]
            doc_rows, row = {}, 0
            for d, n in data["sent_runs"]:
                doc_rows[d] = (row, row + n)
                row += n
        else:
            sent_doc, doc_rows = data["sent_doc"], {}
        records: Sequence[ChunkRecord]
        if fmt >= 5:
            records = _Chunks(data["chunks"], data["doc_fields"], texts)
            chunk_doc = [d for _, _, d, _ in data["chunks"]]
        else:
            records = [
                ChunkRecord(i, _sliced(texts, m) if t is None else t, m)
                for i, t, m in data["chunks"]
            ]
            chunk_doc = [str(r.metadata.get("doc_id")) for r in records]
        own = fmt == 3 or manifest.get("vectors") != "store"
        indptr = arrays["indptr"].astype(np.int64)
        rows = arrays["rows"].astype(np.int32, copy=False)
        tf = arrays["tf"]  # uint16 since format 4 (float32 before): scored as float32
        if fmt >= 5:
            vocab = _Vocab(arrays["vocab_blob"].tobytes(), arrays["vocab_ends"].astype(np.int64))
        else:  # terms numbered in order of appearance
            term_of = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            vocab, indptr, rows, tf = _by_term(data["vocab"], term_of, rows, tf)
        segment = _Segment(
            name=path.name,
            docs=manifest["docs"],
            defs=manifest["defs"],
            chunks=records,
            chunk_doc=chunk_doc,
            vocab=vocab,
            indptr=indptr,
            rows=rows,
            tf=tf,
            lengths=arrays["lengths"],
            texts=texts,
            sent_doc=sent_doc,
            doc_rows=doc_rows,
            sent_span=arrays["sent_span"].astype(np.int64),
            vectors=np.load(path / "vectors.npy").astype(np.float32) if own else np.zeros(0),
            member_rows=arrays["member_rows"].astype(np.int64),
            member_ptr=arrays["member_ptr"].astype(np.int64),
        )
        if not own:
            _vectors_from_store(segment, store)
        if "basis" in arrays:
            segment.basis = arrays["basis"]
            if fmt >= 7:  # a plain array over the map: np.memmap's slices cost 10x as much
                segment.reduced = np.asarray(np.load(path / "reduced.npy", mmap_mode="r"))
                segment.reduced_scale = arrays["reduced_scale"]
            else:  # float32 (formats 5, 6) or float16 projections: coded here, rewritten
                old = np.load(path / "reduced.npy") if fmt >= 5 else arrays["reduced"]
                segment.reduced, segment.reduced_scale = _quantized(old.astype(np.float32))
            if segment.reduced.shape != (len(segment.sent_doc), segment.basis.shape[1]):
                return None
            if "ivf_rows" in arrays:
                segment.ivf = _Lists(
                    arrays["ivf_centroids"], arrays["ivf_ptr"].astype(np.int64), arrays["ivf_rows"]
                )
                if len(segment.ivf.rows) != len(segment.sent_doc):
                    return None
        elif len(segment.vectors) >= _REDUCE_FROM:  # format 3
            _reduce(segment)
        if "term_ids" in arrays:
            segment.term_counts = _TermCounts(
                _Vocab(
                    arrays["term_vocab_blob"].tobytes(), arrays["term_vocab_ends"].astype(np.int64)
                ),
                {d: i for i, d in enumerate(doc_rows or _runs(sent_doc))},
                arrays["term_ptr"].astype(np.int64),
                arrays["term_ids"],
                arrays["term_counts"],
            )
        if fmt != _CACHE_FORMAT or segment.term_counts is None:
            segment.stale_format = fmt  # rewritten in this format, with what it lacks
        return segment
    except Exception:  # a broken segment is derived again, never trusted
        return None


def _vectors_from_store(segment: _Segment, store: Store) -> None:
    """Map the segment's sentence vectors from the store's files; a document whose files
    are gone (a replaced version) is marked and never searched."""
    for doc, (lo, hi) in segment.doc_rows.items():
        files = store.vector_files(doc, segment.docs[doc], hi - lo)
        if files is None or not all(f.is_file() for f in files):
            segment.vectorless.add(doc)
    _map_vectors(segment, store)


def _map_vectors(segment: _Segment, store: Store) -> None:
    dim = segment.basis.shape[0] if segment.basis is not None else 0
    if not dim and len(segment.vectors):
        dim = np.asarray(segment.vectors).shape[1]
    for doc, (lo, hi) in segment.doc_rows.items():  # else the first document's width
        if dim:
            break
        got = store.map_sentence_vectors(doc, segment.docs[doc], hi - lo)
        dim = got.shape[1] if got is not None and got.ndim == 2 else 0
    segment.vectors = _MappedVectors(
        store, segment.docs, segment.doc_rows, len(segment.sent_doc), dim
    )
