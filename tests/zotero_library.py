"""Real-shaped Zotero data directories for tests, built from Zotero's own schema files.

    build_schema(db)            zotero.sqlite with Zotero's tables, triggers and global schema
    ZoteroBuilder(data_dir)     adds items, creators, attachments, notes, collections, trash
    nine_pdf_library(data_dir)  the library the tests read: the nine CC BY PDFs and the edges

Run as a script, it times a re-sync of a library of N items with nothing changed:
    .venv/bin/python tests/zotero_library.py --items 1000
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

ZOTERO = Path(__file__).parent / "data" / "zotero"
PDFS = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "pdfs"
STORED, LINKED = 0, 2  # Zotero's linkMode: imported file (storage/KEY/), linked file


def build_schema(db: Path) -> sqlite3.Connection:
    """Zotero's schema as Zotero creates it: system.sql, userdata.sql, triggers.sql, then the
    global schema's item types, fields and creator types (IDs in the schema's order)."""
    conn = sqlite3.connect(db)
    for name in ("system.sql", "userdata.sql", "triggers.sql"):
        conn.executescript((ZOTERO / name).read_text(encoding="utf-8"))
    schema = json.loads((ZOTERO / "schema-itemtypes.json").read_text(encoding="utf-8"))
    fields: dict[str, int] = {}
    creator_types: dict[str, int] = {}
    for type_id, item_type in enumerate(schema["itemTypes"], start=1):
        name = item_type["itemType"]
        conn.execute("INSERT INTO itemTypes VALUES (?, ?, NULL, 1)", (type_id, name))
        conn.execute("INSERT INTO itemTypesCombined VALUES (?, ?, 1, 0)", (type_id, name))
        for order, f in enumerate(item_type["fields"]):
            for fname in filter(None, (f.get("baseField"), f["field"])):
                if fname not in fields:
                    fields[fname] = len(fields) + 1
                    conn.execute("INSERT INTO fields VALUES (?, ?, NULL)", (fields[fname], fname))
                    conn.execute(
                        "INSERT INTO fieldsCombined VALUES (?, ?, NULL, NULL, 0)",
                        (fields[fname], fname),
                    )
            row = (type_id, fields[f["field"]], None, order)
            conn.execute("INSERT INTO itemTypeFields VALUES (?, ?, ?, ?)", row)
            conn.execute("INSERT INTO itemTypeFieldsCombined VALUES (?, ?, ?, ?)", row)
            if f.get("baseField"):
                base = (type_id, fields[f["baseField"]], fields[f["field"]])
                conn.execute("INSERT INTO baseFieldMappings VALUES (?, ?, ?)", base)
                conn.execute("INSERT INTO baseFieldMappingsCombined VALUES (?, ?, ?)", base)
        for c in item_type.get("creatorTypes", []):
            cname = c["creatorType"]
            if cname not in creator_types:
                creator_types[cname] = len(creator_types) + 1
                conn.execute(
                    "INSERT INTO creatorTypes VALUES (?, ?)", (creator_types[cname], cname)
                )
            conn.execute(
                "INSERT INTO itemTypeCreatorTypes VALUES (?, ?, ?)",
                (type_id, creator_types[cname], int(bool(c.get("primary")))),
            )
    conn.execute(
        "INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (1, 'user', 1, 1)"
    )
    conn.commit()
    return conn


@dataclass
class ZoteroBuilder:
    """Writes items into a data directory's zotero.sqlite as Zotero stores them."""

    data_dir: Path
    conn: sqlite3.Connection = field(init=False)
    _n: int = 0

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conn = build_schema(self.data_dir / "zotero.sqlite")

    def _key(self) -> str:
        self._n += 1
        return f"K{self._n:07d}"

    def _id(self, sql: str, args: tuple) -> int:
        return int(self.conn.execute(sql, args).fetchone()[0])

    def item(
        self,
        item_type: str,
        fields: dict[str, str],
        creators: list[tuple[str, str]] = (),  # type: ignore[assignment]
        *,
        key: str | None = None,
        modified: str = "2024-01-01 10:00:00",
    ) -> tuple[int, str]:
        key = key or self._key()
        type_id = self._id("SELECT itemTypeID FROM itemTypes WHERE typeName = ?", (item_type,))
        cur = self.conn.execute(
            "INSERT INTO items (itemTypeID, libraryID, key, dateModified) VALUES (?, 1, ?, ?)",
            (type_id, key, modified),
        )
        item_id = int(cur.lastrowid or 0)
        for name, value in fields.items():
            self.conn.execute("INSERT OR IGNORE INTO itemDataValues (value) VALUES (?)", (value,))
            value_id = self._id("SELECT valueID FROM itemDataValues WHERE value = ?", (value,))
            field_id = self._id("SELECT fieldID FROM fields WHERE fieldName = ?", (name,))
            self.conn.execute(
                "INSERT INTO itemData VALUES (?, ?, ?)", (item_id, field_id, value_id)
            )
        author = self._id("SELECT creatorTypeID FROM creatorTypes WHERE creatorType = 'author'", ())
        for order, (last, first) in enumerate(creators):
            mode = 1 if not first else 0
            self.conn.execute(
                "INSERT OR IGNORE INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)",
                (first, last, mode),
            )
            creator_id = self._id(
                "SELECT creatorID FROM creators WHERE firstName = ? AND lastName = ? "
                "AND fieldMode = ?",
                (first, last, mode),
            )
            self.conn.execute(
                "INSERT INTO itemCreators VALUES (?, ?, ?, ?)", (item_id, creator_id, author, order)
            )
        return item_id, key

    def attach(
        self,
        parent: int | None,
        source: Path | None,
        *,
        name: str | None = None,
        mode: int = STORED,
        content_type: str = "application/pdf",
        linked_path: Path | None = None,
        modified: str = "2024-01-01 10:00:00",
    ) -> str:
        """An attachment: stored (the file copied to storage/KEY/, unless `source` is None:
        a missing file) or linked (`linked_path`, absolute, as Zotero stores it)."""
        item_id, key = self.item("attachment", {"title": "Full Text PDF"}, modified=modified)
        if mode == STORED:
            name = name or (source.name if source else "missing.pdf")
            if source is not None:
                (self.data_dir / "storage" / key).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, self.data_dir / "storage" / key / name)
            path = f"storage:{name}"
        else:
            path = str(linked_path)
        self.conn.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
            "VALUES (?, ?, ?, ?, ?)",
            (item_id, parent, mode, content_type, path),
        )
        return key

    def note(self, parent: int | None, text: str) -> str:
        item_id, key = self.item("note", {})
        self.conn.execute(
            "INSERT INTO itemNotes (itemID, parentItemID, note, title) VALUES (?, ?, ?, ?)",
            (item_id, parent, f"<p>{text}</p>", text[:40]),
        )
        return key

    def collection(self, name: str, parent: int | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO collections (collectionName, parentCollectionID, libraryID, key) "
            "VALUES (?, ?, 1, ?)",
            (name, parent, self._key()),
        )
        return int(cur.lastrowid or 0)

    def file_under(self, collection: int, item_id: int) -> None:
        self.conn.execute("INSERT INTO collectionItems VALUES (?, ?, 0)", (collection, item_id))

    def trash(self, item_id: int) -> None:
        self.conn.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (item_id,))

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


_TYPES = {
    "acl-2020-specter.pdf": "conferencePaper",
    "naacl-2018-literature-graph.pdf": "conferencePaper",
}


@dataclass
class NinePdfLibrary:
    data_dir: Path
    keys: dict[str, str]  # bibliography.json file name (or a role) -> item key
    collections: dict[str, int]


def nine_pdf_library(data_dir: Path, *, linked_dir: Path) -> NinePdfLibrary:
    """The nine CC BY PDFs as Zotero items with their true metadata (bibliography.json):
    eight stored in storage/KEY/, the NAACL one a linked file in `linked_dir`; one with an
    HTML snapshot too; collections 'Reading group' and 'Thesis' > 'Chapter 2: Méthodes';
    plus an item whose PDF is missing, with a non-ASCII title; an item with only a note;
    a standalone note; an item in the trash."""
    works = json.loads((PDFS / "bibliography.json").read_text(encoding="utf-8"))["works"]
    z = ZoteroBuilder(data_dir)
    thesis = z.collection("Thesis")
    chapter = z.collection("Chapter 2: Méthodes", thesis)
    reading = z.collection("Reading group")
    keys: dict[str, str] = {}
    for w in works:
        kind = _TYPES.get(w["file"], "journalArticle")
        venue = "proceedingsTitle" if kind == "conferencePaper" else "publicationTitle"
        fields = {"title": w["title"], "date": f"{w['year']}-00-00 {w['year']}", venue: w["venue"]}
        for name in ("volume", "pages"):
            if w.get(name):
                fields[name] = w[name]
        if w.get("doi"):
            fields["DOI"] = w["doi"]
        creators = [(a.rsplit(" ", 1)[0], a.rsplit(" ", 1)[1]) for a in w["authors"]]
        item_id, key = z.item(kind, fields, creators)
        keys[w["file"]] = key
        if w["file"].startswith("naacl"):
            linked_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PDFS / w["file"], linked_dir / w["file"])
            z.attach(item_id, None, mode=LINKED, linked_path=linked_dir / w["file"])
        else:
            z.attach(item_id, PDFS / w["file"])
        if w["file"].startswith("elife-2012"):
            snapshot = data_dir / "snapshot.html"
            snapshot.write_text("<html><title>A good life</title><p>Text.</p></html>")
            z.attach(item_id, snapshot, name="index.html", content_type="text/html")
            snapshot.unlink()
        z.file_under(chapter if w["file"].startswith(("bmc", "hindawi")) else reading, item_id)
    item_id, keys["missing"] = z.item(
        "journalArticle",
        {
            "title": "Über die Zuverlässigkeit: Études à Zürich — 信頼性",
            "date": "2019-05-01 May 2019",
        },
        [("Müller", "Jörg"), ("World Health Organization", "")],
    )
    z.attach(item_id, None, name="Müller - 2019.pdf")
    z.file_under(thesis, item_id)
    item_id, keys["note-only"] = z.item("journalArticle", {"title": "A paper read on paper"})
    z.note(item_id, "Read in print; no PDF.")
    keys["standalone-note"] = z.note(None, "A loose note")
    item_id, keys["trashed"] = z.item("journalArticle", {"title": "Deleted paper"})
    z.attach(item_id, PDFS / "acl-2020-specter.pdf")
    z.trash(item_id)
    z.close()
    return NinePdfLibrary(
        data_dir, keys, {"thesis": thesis, "chapter": chapter, "reading": reading}
    )


def _bench(n: int, engine: bool = False) -> None:
    import tempfile
    import time

    from index.zotero import sync_zotero

    pdfs = sorted(PDFS.glob("*.pdf"))
    with tempfile.TemporaryDirectory() as tmp:
        z = ZoteroBuilder(Path(tmp) / "Zotero")
        folders = [z.collection(f"Topic {i}") for i in range(20)]
        for i in range(n):
            item_id, _ = z.item(
                "journalArticle",
                {"title": f"Paper {i}", "date": "2020-01-01 2020", "DOI": f"10.1234/p{i}"},
                [("Author", f"A{i}"), ("Second", "B")],
            )
            z.attach(item_id, None, mode=LINKED, linked_path=pdfs[i % len(pdfs)])
            z.file_under(folders[i % 20], item_id)
        z.close()
        t0 = time.perf_counter()
        first = sync_zotero(z.data_dir, {})
        t1 = time.perf_counter()
        again = sync_zotero(z.data_dir, first.state)
        t2 = time.perf_counter()
        assert len(first.added) == n and again.unchanged == n and not again.changed, again
        print(f"items: {n}; first sync {t1 - t0:.3f} s ({len(first.added)} added); ")
        print(
            f"re-sync unchanged {t2 - t1:.3f} s ({again.unchanged} unchanged, "
            "0 added/changed/deleted)"
        )
        if engine:  # the whole product path: papertrail ingest --zotero, twice
            from rag import Engine, Settings

            e = Engine.open(Settings(index_dir=Path(tmp) / "index"))
            t3 = time.perf_counter()
            imported = e.ingest_library("zotero", z.data_dir)
            t4 = time.perf_counter()
            same = e.ingest_library("zotero", z.data_dir)
            t5 = time.perf_counter()
            assert same.unchanged == n and not same.report.files, same
            print(
                f"Engine.ingest_library: first {t4 - t3:.1f} s ({len(imported.added)} items, "
                f"{len(imported.report.stored)} files indexed); again with nothing changed "
                f"{t5 - t4:.3f} s"
            )


if __name__ == "__main__":
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere
    parser = argparse.ArgumentParser(description="Time a Zotero re-sync with nothing changed.")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--engine", action="store_true", help="also time ingest --zotero")
    args = parser.parse_args()
    _bench(args.items, args.engine)
