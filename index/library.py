"""A reference manager's library -> the files to index with their records, kept in step.

`papertrail ingest --zotero DIR | --bib FILE | --ris FILE`: the library is read (read-only:
index/zotero.py, index/bibfiles.py), compared with what the last import of the same library
saw (index_dir/libraries/), and only added or changed items are indexed; a deleted item's
files leave the index. Entries without a file are kept for matching: a loose PDF with the
same DOI or title takes their fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from index.models import DocumentMetadata, IngestReport, LibraryEntry, LibraryRead
from index.store import source_key

__all__ = [
    "LibraryImport",
    "LibraryKind",
    "LibraryState",
    "WorkIndex",
    "match_unfiled",
    "plan_import",
    "read_library",
    "same_work",
    "unfiled_records",
]

LibraryKind = Literal["zotero", "bibtex", "ris"]


class LibraryState(BaseModel):
    """What the last import of one library saw."""

    kind: LibraryKind
    path: str
    versions: dict[str, str] = Field(default_factory=dict, description="Item key -> version.")
    files: dict[str, list[str]] = Field(
        default_factory=dict, description="Item key -> source keys of the files indexed for it."
    )
    unfiled: list[DocumentMetadata] = Field(
        default_factory=list, description="Entries without a file, for matching loose PDFs."
    )


class LibraryImport(BaseModel):
    """One import of a library: what changed, what was indexed and removed, what is wrong."""

    kind: LibraryKind
    path: str
    items: int = 0
    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    unchanged: int = 0
    without_files: int = Field(0, description="Entries kept as metadata only.")
    problems: list[str] = Field(default_factory=list, description="One line each.")
    removed: list[str] = Field(default_factory=list, description="Doc ids of deleted items.")
    report: IngestReport = Field(default_factory=IngestReport)


def read_library(kind: LibraryKind, path: Path) -> LibraryRead:
    """The library's entries and problems (reader errors become one problem line)."""
    from index.bibfiles import read_bibfile
    from index.zotero import read_zotero

    return read_zotero(path) if kind == "zotero" else read_bibfile(path)


def _state_file(index_dir: Path, kind: LibraryKind, path: Path) -> Path:
    digest = hashlib.sha256(f"{kind}|{path.resolve()}".encode()).hexdigest()[:20]
    return index_dir / "libraries" / f"{kind}-{digest}.json"


def load_state(index_dir: Path, kind: LibraryKind, path: Path) -> LibraryState:
    state_file = _state_file(index_dir, kind, path)
    if state_file.is_file():
        try:
            return LibraryState.model_validate_json(state_file.read_text(encoding="utf-8"))
        except ValueError:
            pass  # a damaged state: everything is read again, nothing is lost
    return LibraryState(kind=kind, path=str(path.resolve()))


def save_state(index_dir: Path, state: LibraryState) -> None:
    state_file = _state_file(index_dir, state.kind, Path(state.path))
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(), encoding="utf-8")
    tmp.replace(state_file)


def _version(entry: LibraryEntry) -> str:
    """What changes when the item, its collections or one of its files change."""
    stamp = [entry.version or entry.metadata.model_dump_json(), entry.collections]
    for f in entry.files:
        try:
            st = Path(f).stat()
            stamp.append([f, st.st_size, st.st_mtime_ns])
        except OSError:
            stamp.append([f, None])
    return hashlib.sha256(json.dumps(stamp, sort_keys=True, default=str).encode()).hexdigest()[:16]


def plan_import(
    read: LibraryRead, previous: LibraryState
) -> tuple[LibraryImport, LibraryState, list[LibraryEntry], list[str]]:
    """(the import's counts, the new state, entries to index, source keys to remove)."""
    out = LibraryImport(kind=previous.kind, path=previous.path, items=len(read.entries))
    out.problems = [p.line for p in read.problems]
    state = LibraryState(kind=previous.kind, path=previous.path)
    to_index: list[LibraryEntry] = []
    for entry in read.entries:
        if not entry.files:
            out.without_files += 1
            state.unfiled.append(entry.metadata)
            continue
        version = _version(entry)
        state.versions[entry.key] = version
        state.files[entry.key] = [source_key(f) for f in entry.files]
        if entry.key not in previous.versions:
            out.added.append(entry.key)
        elif previous.versions[entry.key] != version:
            out.changed.append(entry.key)
        else:
            out.unchanged += 1
            continue
        to_index.append(entry)
    # An unreadable library reports no deletions: nothing is removed on a failed read.
    readable = bool(read.entries) or not read.problems
    kept = {k for keys in state.files.values() for k in keys}
    gone: list[str] = []
    for key in previous.versions:
        if key not in state.versions and readable:
            out.deleted.append(key)
            gone += [k for k in previous.files.get(key, []) if k not in kept]
    return out, state, to_index, gone


def _norm_title(title: str | None) -> str:
    return re.sub(r"[\W_]+", " ", (title or "").lower()).strip()


def _doi(doi: str | None) -> str:
    return (doi or "").strip().lower()


def same_work(a: DocumentMetadata | None, b: DocumentMetadata | None) -> bool:
    """The same paper by DOI, or by title, first author's family name and year."""
    if a is None or b is None:
        return False
    if a.doi and b.doi:
        return _doi(a.doi) == _doi(b.doi)
    if not (_norm_title(a.title) and _norm_title(a.title) == _norm_title(b.title)):
        return False
    first = [m.creators[0].family.lower() if m.creators else "" for m in (a, b)]
    return first[0] == first[1] and a.year == b.year and bool(first[0])


class WorkIndex:
    """Documents' metadata by DOI and by (title, first author, year), so that the first
    document describing the same work as another (`same_work`) is a lookup, not a pass over
    the library (9,800 documents: 9,800 comparisons per new one)."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[int, DocumentMetadata | None, str | None]] = {}
        self._keys: dict[tuple[str, ...], set[str]] = {}

    def add(self, doc_id: str, metadata: DocumentMetadata | None, duplicate_of: str | None) -> None:
        """Add or replace a document (a replaced one keeps its place in the order)."""
        old = self._docs.get(doc_id)
        if old is not None:
            for key in _work_keys(old[1]):
                self._keys[key].discard(doc_id)
        order = old[0] if old is not None else len(self._docs)
        self._docs[doc_id] = (order, metadata, duplicate_of)
        for key in _work_keys(metadata):
            self._keys.setdefault(key, set()).add(doc_id)

    def first_same(self, doc_id: str, metadata: DocumentMetadata | None) -> str | None:
        """The copy that the earliest other document describing the same work points at
        (itself if it is a first copy); None if there is none or it is `doc_id`."""
        candidates = set()
        for key in _work_keys(metadata):
            candidates |= self._keys.get(key, set())
        candidates.discard(doc_id)
        hits = [d for d in candidates if same_work(metadata, self._docs[d][1])]
        if not hits:
            return None
        other = min(hits, key=lambda d: self._docs[d][0])
        root = self._docs[other][2] or other
        return root if root != doc_id else None


def _work_keys(m: DocumentMetadata | None) -> list[tuple[str, ...]]:
    """The keys under which `same_work` can find `m`: its DOI, its title key, or both."""
    if m is None:
        return []
    keys: list[tuple[str, ...]] = [("doi", _doi(m.doi))] if m.doi else []
    family = m.creators[0].family.lower() if m.creators else ""
    if _norm_title(m.title) and family:
        keys.append(("title", _norm_title(m.title), family, str(m.year)))
    return keys


def unfiled_records(index_dir: Path) -> list[DocumentMetadata]:
    """Every imported library's entries without a file (read once per ingest)."""
    folder = index_dir / "libraries"
    records: list[DocumentMetadata] = []
    for state_file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            state = LibraryState.model_validate_json(state_file.read_text(encoding="utf-8"))
        except ValueError:
            continue
        records += state.unfiled
    return records


def match_unfiled(
    records: list[DocumentMetadata], metadata: DocumentMetadata | None
) -> DocumentMetadata | None:
    """The entry among `records` that describes the same work as `metadata`."""
    if metadata is None:
        return None
    return next((r for r in records if same_work(r, metadata)), None)
