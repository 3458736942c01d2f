"""index.zotero: a real-shaped Zotero library (Zotero's own schema) read-only, and re-synced."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from zotero_library import PDFS, NinePdfLibrary, ZoteroBuilder, nine_pdf_library

from index.zotero import read_zotero, sync_zotero


@pytest.fixture
def library(tmp_path: Path) -> NinePdfLibrary:
    return nine_pdf_library(tmp_path / "Zotero", linked_dir=tmp_path / "Papers")


def _entries(lib: NinePdfLibrary) -> dict:
    return {e.key: e for e in read_zotero(lib.data_dir).entries}


def test_items_carry_exactly_the_records_fields_from_zotero(library: NinePdfLibrary) -> None:
    works = json.loads((PDFS / "bibliography.json").read_text(encoding="utf-8"))["works"]
    entries = _entries(library)
    for w in works:
        meta = entries[library.keys[w["file"]]].metadata
        assert meta.title == w["title"]
        assert [f"{c.family} {c.given}" for c in meta.creators] == w["authors"]
        assert (meta.year, meta.venue, meta.doi) == (w["year"], w["venue"], w["doi"])
        assert (meta.volume, meta.pages) == (w.get("volume"), w.get("pages"))
        assert set(meta.sources.values()) == {"zotero"}
    specter = entries[library.keys["acl-2020-specter.pdf"]].metadata
    assert specter.item_type == "paper-conference"  # proceedingsTitle read as the venue


def test_stored_and_linked_attachments_resolve_to_their_files(
    library: NinePdfLibrary, tmp_path: Path
) -> None:
    entries = _entries(library)
    bmc = entries[library.keys["bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf"]]
    (stored,) = bmc.files
    assert Path(stored).parent.parent == library.data_dir / "storage"
    assert _sha(Path(stored)) == _sha(PDFS / "bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf")
    naacl = entries[library.keys["naacl-2018-literature-graph.pdf"]]
    assert naacl.files == [str(tmp_path / "Papers" / "naacl-2018-literature-graph.pdf")]
    elife = entries[library.keys["elife-2012-e00353-a-good-life.pdf"]]
    assert [Path(f).suffix for f in elife.files] == [".pdf", ".html"]


def test_nested_collections_become_paths(library: NinePdfLibrary) -> None:
    entries = _entries(library)
    assert entries[library.keys["hindawi-rrp-2010-heart-failure-programmes.pdf"]].collections == [
        "Thesis/Chapter 2: Méthodes"
    ]
    assert entries[library.keys["acl-2020-specter.pdf"]].collections == ["Reading group"]
    assert entries[library.keys["missing"]].collections == ["Thesis"]


def test_missing_file_and_item_without_file_are_one_line_each(library: NinePdfLibrary) -> None:
    read = read_zotero(library.data_dir)
    db = library.data_dir / "zotero.sqlite"
    missing = library.data_dir / "storage"
    lines = sorted(p.line for p in read.problems)
    key_missing, key_note = library.keys["missing"], library.keys["note-only"]
    assert len(lines) == 2
    assert lines[0].startswith(f"{db}: {key_missing}: attachment file missing: {missing}/")
    assert lines[0].endswith("/Müller - 2019.pdf")
    assert lines[1] == f"{db}: {key_note}: no PDF or HTML attachment"
    assert all("\n" not in line for line in lines)


def test_non_ascii_title_and_institutional_author_survive(library: NinePdfLibrary) -> None:
    meta = _entries(library)[library.keys["missing"]].metadata
    assert meta.title == "Über die Zuverlässigkeit: Études à Zürich — 信頼性"
    assert [(c.family, c.given, c.name) for c in meta.creators] == [
        ("Müller", "Jörg", None),
        ("", "", "World Health Organization"),
    ]
    assert meta.year == 2019


def test_notes_attachments_and_trashed_items_are_not_entries(library: NinePdfLibrary) -> None:
    keys = set(_entries(library))
    assert library.keys["standalone-note"] not in keys
    assert library.keys["trashed"] not in keys
    assert library.keys["note-only"] in keys  # kept as a record, reported as without a file
    assert len(keys) == 9 + 2


def test_database_locked_by_another_connection_is_still_read(library: NinePdfLibrary) -> None:
    holder = sqlite3.connect(library.data_dir / "zotero.sqlite")
    holder.execute("BEGIN EXCLUSIVE")  # what a running Zotero holds
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(library.data_dir / "zotero.sqlite", timeout=0).execute(
                "SELECT count(*) FROM items"
            ).fetchone()
        assert len(read_zotero(library.data_dir).entries) == 11
    finally:
        holder.rollback()
        holder.close()


def test_reading_never_writes_the_data_directory(library: NinePdfLibrary) -> None:
    before = {
        p: (p.stat().st_mtime_ns, _sha(p)) for p in library.data_dir.rglob("*") if p.is_file()
    }
    read_zotero(library.data_dir)
    sync_zotero(library.data_dir, {})
    after = {p: (p.stat().st_mtime_ns, _sha(p)) for p in library.data_dir.rglob("*") if p.is_file()}
    assert after == before  # no journal, WAL or shm file either


def test_database_never_opened_by_zotero_reads_the_plain_tables(
    library: NinePdfLibrary,
) -> None:
    conn = sqlite3.connect(library.data_dir / "zotero.sqlite")
    conn.executescript("DELETE FROM fieldsCombined; DELETE FROM itemTypesCombined;")
    conn.close()
    entries = _entries(library)
    assert entries[library.keys["acl-2020-specter.pdf"]].metadata.title.startswith("SPECTER")


def test_missing_database_is_one_problem(tmp_path: Path) -> None:
    read = read_zotero(tmp_path)
    assert read.entries == []
    assert [p.line.split(": ", 1)[0] for p in read.problems] == [str(tmp_path / "zotero.sqlite")]


def test_resync_reports_added_changed_and_deleted_keys(library: NinePdfLibrary) -> None:
    first = sync_zotero(library.data_dir, {})
    assert len(first.added) == 11 and not first.changed and not first.deleted
    same = sync_zotero(library.data_dir, first.state)
    assert (same.added, same.changed, same.deleted, same.unchanged) == ([], [], [], 11)

    conn = sqlite3.connect(library.data_dir / "zotero.sqlite")
    bmc = library.keys["bmc-hsr-2014-quality-improvement-malawi.pdf"]
    conn.execute("UPDATE items SET dateModified = '2025-02-02 09:00:00' WHERE key = ?", (bmc,))
    gone = library.keys["peerjcs-2017-vespa.pdf"]
    conn.execute(
        "INSERT INTO deletedItems (itemID) SELECT itemID FROM items WHERE key = ?", (gone,)
    )
    conn.commit()
    conn.close()
    z = ZoteroBuilder.__new__(ZoteroBuilder)  # add one item to the existing database
    z.data_dir, z._n = library.data_dir, 900
    z.conn = sqlite3.connect(library.data_dir / "zotero.sqlite")
    _, new = z.item("journalArticle", {"title": "Added later"})
    z.close()

    again = sync_zotero(library.data_dir, first.state)
    assert (again.added, again.changed, again.deleted) == ([new], [bmc], [gone])
    assert again.unchanged == 9


def test_a_new_attachment_changes_its_parent(library: NinePdfLibrary) -> None:
    first = sync_zotero(library.data_dir, {})
    z = ZoteroBuilder.__new__(ZoteroBuilder)
    z.data_dir, z._n = library.data_dir, 950
    z.conn = sqlite3.connect(library.data_dir / "zotero.sqlite")
    parent = z.conn.execute(
        "SELECT itemID FROM items WHERE key = ?", (library.keys["note-only"],)
    ).fetchone()[0]
    z.attach(parent, PDFS / "acl-2020-specter.pdf", name="scan.pdf")
    z.close()
    again = sync_zotero(library.data_dir, first.state)
    assert again.changed == [library.keys["note-only"]]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
