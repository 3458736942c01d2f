"""A Zotero data directory (zotero.sqlite + storage/) -> library entries, read-only.

Zotero holds zotero.sqlite with an exclusive lock while it runs, so the database is opened
as an immutable read-only URI (`?mode=ro&immutable=1`): SQLite then takes no lock and never
writes (no journal, no WAL), and a running Zotero is neither blocked nor disturbed. What
Zotero has not yet written to the file is not seen; the next sync picks it up.

Items come with their fields (itemData -> fieldsCombined, itemDataValues), creators in order
(itemCreators, creatorTypes), collections as nested paths, and their PDF/HTML attachments:
`storage:NAME` -> storage/<attachment key>/NAME, linked files by absolute path (or
`attachments:REL` under `attachments_dir`, Zotero's "linked attachment base directory").
Notes, annotations and items in the trash (deletedItems) are skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from index.models import (
    Creator,
    DocumentMetadata,
    LibraryEntry,
    LibraryProblem,
    LibraryRead,
    LibrarySync,
)

__all__ = ["read_zotero", "sync_zotero"]

_NOT_ITEMS = ("note", "attachment", "annotation")
_READABLE_TYPES = ("application/pdf", "text/html", "application/xhtml+xml", "text/plain")
_LINKED_FILE = 2  # Zotero.Attachments.LINK_MODE_LINKED_FILE; 0/1 are stored in storage/
_LINKED_URL = 3

# Zotero field -> DocumentMetadata field. Type-specific fields that map onto a base field
# (proceedingsTitle, bookTitle, … -> publicationTitle) are listed with it.
_FIELDS = {
    "title": "title",
    "publicationTitle": "venue",
    "proceedingsTitle": "venue",
    "bookTitle": "venue",
    "websiteTitle": "venue",
    "blogTitle": "venue",
    "encyclopediaTitle": "venue",
    "dictionaryTitle": "venue",
    "forumTitle": "venue",
    "volume": "volume",
    "issue": "issue",
    "pages": "pages",
    "DOI": "doi",
    "url": "url",
    "rights": "licence",
}
# Zotero item type -> CSL type (after schema.json's "csl" mapping, for the common ones).
_CSL_TYPES = {
    "journalArticle": "article-journal",
    "conferencePaper": "paper-conference",
    "book": "book",
    "bookSection": "chapter",
    "thesis": "thesis",
    "report": "report",
    "webpage": "webpage",
    "preprint": "article",
    "magazineArticle": "article-magazine",
    "newspaperArticle": "article-newspaper",
    "manuscript": "manuscript",
    "document": "document",
}


def read_zotero(data_dir: Path, *, attachments_dir: Path | None = None) -> LibraryRead:
    """Every item of the library in `data_dir` with its files and collections; missing or
    unreadable files and items without a file are problems, one line each."""
    data_dir = Path(data_dir).expanduser()
    db = data_dir / "zotero.sqlite"
    try:
        with _open(db) as conn:
            return _read(conn, data_dir, attachments_dir)
    except sqlite3.Error as exc:
        return LibraryRead(
            problems=[LibraryProblem(source=str(db), message=f"cannot read the database: {exc}")]
        )


def sync_zotero(
    data_dir: Path, previous: Mapping[str, str], *, attachments_dir: Path | None = None
) -> LibrarySync:
    """The library read again, with the item keys added, changed and deleted since the
    `previous` run's state (LibrarySync.state of that run; {} on the first)."""
    read = read_zotero(data_dir, attachments_dir=attachments_dir)
    state = {e.key: e.version or "" for e in read.entries}
    added = [k for k in state if k not in previous]
    changed = [k for k in state if k in previous and previous[k] != state[k]]
    deleted = sorted(k for k in previous if k not in state)
    if read.problems and not read.entries and any("database" in p.message for p in read.problems):
        deleted = []  # an unreadable database is not a library emptied
    unchanged = len(state) - len(added) - len(changed)
    return LibrarySync(
        read=read, state=state, added=added, changed=changed, deleted=deleted, unchanged=unchanged
    )


def _open(db: Path) -> sqlite3.Connection:
    if not db.is_file():
        raise sqlite3.OperationalError(f"no such file: {db}")
    uri = f"file:{quote(str(db.resolve()))}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


def _table(conn: sqlite3.Connection, name: str) -> str:
    """Zotero fills the *Combined tables (built-in plus custom types/fields) at start-up;
    a database never opened by Zotero has only the plain ones."""
    (n,) = conn.execute(f"SELECT count(*) FROM {name}Combined").fetchone()
    return f"{name}Combined" if n else name


def _read(conn: sqlite3.Connection, data_dir: Path, attachments_dir: Path | None) -> LibraryRead:
    source = str(data_dir / "zotero.sqlite")
    deleted = {r[0] for r in conn.execute("SELECT itemID FROM deletedItems")}
    items = [
        row
        for row in conn.execute(
            f"SELECT i.itemID, i.key, t.typeName, i.dateModified, i.version FROM items i "
            f"JOIN {_table(conn, 'itemTypes')} t USING (itemTypeID) ORDER BY i.itemID"
        )
        if row[0] not in deleted
    ]
    fields = _fields(conn)
    creators = _creators(conn)
    attachments = _attachments(conn, deleted)
    collections = _collections(conn, deleted)
    out = LibraryRead()
    for item_id, key, kind, modified, version in items:
        if kind in _NOT_ITEMS and not (kind == "attachment" and item_id in attachments[None]):
            continue  # notes; attachments are read with their parent (standalone: below)
        own = attachments[item_id] if kind != "attachment" else [attachments[None][item_id]]
        meta = _metadata(key, kind, fields[item_id], creators[item_id])
        files: list[str] = []
        reported = False
        for att_key, link_mode, content_type, path, _modified in own:
            if content_type not in _READABLE_TYPES or link_mode == _LINKED_URL:
                continue
            file, problem = _locate(data_dir, attachments_dir, att_key, link_mode, path)
            if problem:
                out.problems.append(LibraryProblem(source=source, item=key, message=problem))
                reported = True
            elif file is not None:
                files.append(str(file))
        if not files and not reported:
            why = "no PDF or HTML attachment" if not own else "no readable PDF or HTML file"
            out.problems.append(LibraryProblem(source=source, item=key, message=why))
        stamp = [modified, str(version), *(f"{a[0]}:{a[4]}:{a[3]}" for a in own)]
        stamp += collections[item_id]
        out.entries.append(
            LibraryEntry(
                key=key,
                metadata=meta,
                files=files,
                collections=collections[item_id],
                version=f"{modified}#{hashlib.sha1('|'.join(stamp).encode()).hexdigest()[:12]}",
            )
        )
    return out


def _fields(conn: sqlite3.Connection) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, name, value in conn.execute(
        f"SELECT d.itemID, f.fieldName, v.value FROM itemData d "
        f"JOIN {_table(conn, 'fields')} f USING (fieldID) JOIN itemDataValues v USING (valueID)"
    ):
        out[item_id][name] = str(value)
    return out


def _creators(conn: sqlite3.Connection) -> dict[int, list[Creator]]:
    out: dict[int, list[Creator]] = defaultdict(list)
    for item_id, first, last, mode, role in conn.execute(
        "SELECT ic.itemID, c.firstName, c.lastName, c.fieldMode, t.creatorType "
        "FROM itemCreators ic JOIN creators c USING (creatorID) "
        "JOIN creatorTypes t USING (creatorTypeID) ORDER BY ic.itemID, ic.orderIndex"
    ):
        if mode == 1:  # one-field name (an institution), kept in lastName
            out[item_id].append(Creator(name=last or first, role=role))
        else:
            out[item_id].append(Creator(family=last or "", given=first or "", role=role))
    return out


# attachment key, link mode, content type, path, dateModified
_Attachment = tuple[str, int, str, str, str]


def _attachments(conn: sqlite3.Connection, deleted: set[int]) -> dict:
    """Parent itemID -> its attachments; under None, standalone ones by their own itemID."""
    by_parent: dict = defaultdict(list)
    by_parent[None] = {}
    for item_id, key, parent, mode, content_type, path, modified in conn.execute(
        "SELECT a.itemID, i.key, a.parentItemID, a.linkMode, a.contentType, a.path, "
        "i.dateModified FROM itemAttachments a JOIN items i USING (itemID) ORDER BY a.itemID"
    ):
        if item_id in deleted:
            continue
        row = (key, mode, content_type or "", path or "", modified)
        if parent is None:
            by_parent[None][item_id] = row
        else:
            by_parent[parent].append(row)
    return by_parent


def _collections(conn: sqlite3.Connection, deleted_items: set[int]) -> dict[int, list[str]]:
    """ItemID -> the paths of its collections, nested with '/': 'Thesis/Chapter 2'."""
    gone = {r[0] for r in conn.execute("SELECT collectionID FROM deletedCollections")}
    rows = {
        cid: (name, parent)
        for cid, name, parent in conn.execute(
            "SELECT collectionID, collectionName, parentCollectionID FROM collections"
        )
    }

    def path(cid: int) -> str | None:
        parts, seen = [], set()
        while cid is not None and cid not in seen:
            if cid in gone or cid not in rows:
                return None
            seen.add(cid)
            name, parent = rows[cid]
            parts.append(name)
            cid = parent
        return "/".join(reversed(parts))

    out: dict[int, list[str]] = defaultdict(list)
    for cid, item_id in conn.execute(
        "SELECT collectionID, itemID FROM collectionItems ORDER BY collectionID, orderIndex"
    ):
        p = path(cid)
        if p is not None and item_id not in deleted_items:
            out[item_id].append(p)
    return out


def _locate(
    data_dir: Path, attachments_dir: Path | None, key: str, mode: int, path: str
) -> tuple[Path | None, str | None]:
    """The attachment's file, or why it cannot be read (one line)."""
    if path.startswith("storage:"):
        file = data_dir / "storage" / key / path.removeprefix("storage:")
    elif path.startswith("attachments:"):
        if attachments_dir is None:
            return None, f"linked file {path} is relative to Zotero's base directory; pass it"
        file = attachments_dir / path.removeprefix("attachments:")
    elif mode == _LINKED_FILE and path:
        file = Path(path)
    else:
        return None, f"attachment {key} has no file path"
    if not file.is_file():
        return None, f"attachment file missing: {file}"
    if not os.access(file, os.R_OK):
        return None, f"attachment file unreadable (permissions): {file}"
    return file, None


def _metadata(
    key: str, kind: str, fields: dict[str, str], creators: list[Creator]
) -> DocumentMetadata:
    values: dict[str, object] = {}
    for name, value in fields.items():
        target = _FIELDS.get(name)
        if target and value.strip() and target not in values:
            values[target] = " ".join(value.split())
    year = re.match(r"(\d{4})", fields.get("date", ""))  # "2010-02-15 15 Feb 2010"
    if year and year.group(1) != "0000":
        values["year"] = int(year.group(1))
    extra = fields.get("extra", "") + "\n" + fields.get("archiveID", "")
    arxiv = re.search(r"(?im)^\s*arXiv:\s*(\S+)", extra)
    pmid = re.search(r"(?im)^\s*PMID:\s*(\d+)", extra)
    if arxiv:
        values["arxiv"] = arxiv.group(1)
    if pmid:
        values["pmid"] = pmid.group(1)
    if creators:
        values["creators"] = creators
    if isinstance(values.get("pages"), str):
        values["pages"] = re.sub(r"\s*[–—-]+\s*", "-", str(values["pages"]))
    values["item_type"] = _CSL_TYPES.get(kind, "document")
    return DocumentMetadata(key=key, **values, sources=dict.fromkeys(values, "zotero"))  # type: ignore[arg-type]
